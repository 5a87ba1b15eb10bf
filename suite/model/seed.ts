/** The seed protocol's constants (the classic server.c/client.c pair), defined once. */

/** What a server started without a payload sends, and its client prints. */
export const FIXED_MESSAGE: Buffer = Buffer.from('Server Message\n');
/** sun_path holds 108 bytes including the NUL, so 107 is the longest pathname (unix(7)). */
export const SUN_PATH_MAX = 107;
/** The seed's server binds with sizeof(struct sockaddr): only the first 14 bytes of its path. */
export const SEED_BIND_LIMIT = 14;

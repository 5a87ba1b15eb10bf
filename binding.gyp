# node-addon-api's headers through include_dirs, with its "except" settings inline, not its gyp
# target as a dependency: gyp writes a dependency's makefiles beside its .gyp file relative to build/,
# which in an installed package (node-addon-api hoisted to ../node-addon-api) is a stray
# node-addon-api/ folder in the package root.
{
  "targets": [
    {
      "target_name": "uds_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/diag.cc",
        "native/src/errors.cc",
        "native/src/files.cc",
        "native/src/messages.cc",
        "native/src/poll.cc",
        "native/src/sockets.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}

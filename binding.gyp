{
  "targets": [
    {
      "target_name": "uds_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/errors.cc",
        "native/src/files.cc",
        "native/src/messages.cc",
        "native/src/poll.cc",
        "native/src/sockets.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}

# node-gyp build of the CPU addon, mirroring CMakeLists.txt (the source of truth). Sources come
# from scripts/list-sources.mjs, so both builds follow the same file-naming convention; ISA flags
# are set only on the kernel libraries that need them.
{
  "variables": {
    "sparq_x86": "<!(node -p \"['x64','ia32'].includes(process.arch) ? 1 : 0\")"
  },
  "target_defaults": {
    "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-maybe-uninitialized", "-Wno-uninitialized"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y"],
    "include_dirs": ["native/include"],
    "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17" }
  },
  "targets": [
    {
      "target_name": "sparq",
      "sources": ["<!@(node scripts/list-sources.mjs core)", "<!@(node scripts/list-sources.mjs binding)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "conditions": [
        ["sparq_x86==1", {
          "dependencies": ["sparq_x86_plain", "sparq_avx2", "sparq_avx2_vnni", "sparq_avx512", "sparq_avx512_vnni"]
        }],
        ["OS=='linux'", { "libraries": ["-ldl"] }]
      ]
    }
  ],
  "conditions": [
    ["sparq_x86==1", {
      "targets": [
        { "target_name": "sparq_x86_plain", "type": "static_library", "cflags": ["-fPIC"],
          "sources": ["<!@(node scripts/list-sources.mjs x86-plain)"] },
        { "target_name": "sparq_avx2", "type": "static_library", "cflags": ["-fPIC", "-mavx2", "-mfma", "-mf16c"],
          "sources": ["<!@(node scripts/list-sources.mjs avx2)"] },
        { "target_name": "sparq_avx2_vnni", "type": "static_library", "cflags": ["-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavxvnni"],
          "sources": ["<!@(node scripts/list-sources.mjs avx2-vnni)"] },
        { "target_name": "sparq_avx512", "type": "static_library",
          "cflags": ["-fPIC", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma", "-mf16c"],
          "sources": ["<!@(node scripts/list-sources.mjs avx512)"] },
        { "target_name": "sparq_avx512_vnni", "type": "static_library",
          "cflags": ["-fPIC", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma", "-mf16c", "-mavx512vnni"],
          "sources": ["<!@(node scripts/list-sources.mjs avx512-vnni)"] }
      ]
    }]
  ]
}

# cmake -DROOT=<source dir> [-DSTAMP=<file>] -P cmake/check_layers.cmake
cmake_minimum_required(VERSION 3.22)
# Fails when a file includes a folder its layer may not use (cmake/layers.cmake). Only includes
# written with a project folder ("agent/...", "common/..." and so on) are checked.
include(${CMAKE_CURRENT_LIST_DIR}/layers.cmake)

# The folder (of ZREP_LAYER_FOLDERS) a path lies in: the longest that is a prefix of it.
function(zrep_layer_of path out)
  set(best "")
  foreach(folder IN LISTS ZREP_LAYER_FOLDERS)
    string(LENGTH "${folder}/" n)
    string(SUBSTRING "${path}" 0 ${n} head)
    string(LENGTH "${best}" bn)
    if(head STREQUAL "${folder}/" AND n GREATER bn)
      set(best "${folder}")
    endif()
  endforeach()
  set(${out} "${best}" PARENT_SCOPE)
endfunction()

set(failures 0)
file(GLOB_RECURSE files RELATIVE ${ROOT}
     ${ROOT}/agent/*.h ${ROOT}/agent/*.cc ${ROOT}/common/*.h ${ROOT}/common/*.cc
     ${ROOT}/proto/*.h ${ROOT}/proto/*.cc ${ROOT}/crypto/*.h ${ROOT}/crypto/*.cc
     ${ROOT}/sender/*.h ${ROOT}/sender/*.cc ${ROOT}/receiver/*.h ${ROOT}/receiver/*.cc)
foreach(file IN LISTS files)
  zrep_layer_of("${file}" layer)
  if(layer STREQUAL "")
    continue()
  endif()
  set(allowed ${layer} ${ZREP_MAY_${layer}})
  file(STRINGS ${ROOT}/${file} lines REGEX "^#include \"")
  set(lineno 0)
  file(STRINGS ${ROOT}/${file} all_lines)
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" target "${line}")
    zrep_layer_of("${target}" target_layer)
    if(target_layer STREQUAL "")
      continue()  # a generated header without a folder, or outside the layered tree
    endif()
    if(NOT target_layer IN_LIST allowed)
      list(FIND all_lines "${line}" index)
      math(EXPR lineno "${index} + 1")
      string(REPLACE ";" "/, " shown "${allowed}")
      message(SEND_ERROR
        "${file}:${lineno}: includes \"${target}\": ${layer}/ may include only "
        "${shown}/ (the layers: cmake/layers.cmake, ARCHITECTURE.md)")
      math(EXPR failures "${failures} + 1")
    endif()
  endforeach()
endforeach()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} include(s) against the layers")
endif()
if(DEFINED STAMP)
  file(TOUCH ${STAMP})
endif()

# Warnings, -march=native and sanitizers, gathered on one interface target that every swirl target links.
add_library(swirl_options INTERFACE)
# -fno-math-errno: swirl never reads errno after a math call, and it lets sqrt vectorise (Adam, std).
# -fno-trapping-math: swirl never unmasks floating-point traps, and without the flag GCC will not turn a float
# select (x < 0 ? 0 : x, the sine's quadrant) into a blend where the target has no masked vectors: with AVX2 such
# loops, the data's sine and cosine among them, stay scalar. Values are IEEE's either way.
target_compile_options(swirl_options INTERFACE
                       $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -fno-math-errno -fno-trapping-math>)
target_compile_options(swirl_options INTERFACE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
if(SWIRL_WERROR)
  target_compile_options(swirl_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>
                                                 $<$<COMPILE_LANGUAGE:CUDA>:--Werror=all-warnings -Xcompiler=-Werror>)
endif()
if(SWIRL_NATIVE)
  target_compile_options(swirl_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()

# The copies of the CPU kernels (tensor/cpu/capability.h): one for this machine's CPU with -march=native; on
# x86-64 without it, one for each level the run-time choice picks from (tensor/cpu/choose.cpp); elsewhere one for
# the compiler's target (aarch64: NEON). "native" names the single copy compiled for the compiler's flags.
if(NOT SWIRL_NATIVE AND SWIRL_CPU_DISPATCH AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(SWIRL_CPU_COPIES baseline avx2 avx512)
else()
  set(SWIRL_CPU_COPIES native)
endif()
if(SWIRL_SANITIZE)
  target_compile_options(swirl_options INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${SWIRL_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all>)
  target_link_options(swirl_options INTERFACE -fsanitize=${SWIRL_SANITIZE})
endif()

# swirl_add_layer(NAME SOURCES... DEPENDS targets...): one static library per layer, exported as swirl::NAME.
function(swirl_add_layer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_library(swirl_${name} STATIC ${ARG_SOURCES})
  add_library(swirl::${name} ALIAS swirl_${name})
  set_target_properties(swirl_${name} PROPERTIES EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON)
  target_include_directories(swirl_${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<INSTALL_INTERFACE:include/swirl>)
  target_link_libraries(swirl_${name} PUBLIC ${ARG_DEPENDS} PRIVATE $<BUILD_INTERFACE:swirl_options>)
endfunction()

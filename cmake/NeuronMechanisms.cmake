# NeuronMechanisms.cmake -- build the NEURON mechanisms (mod/*.mod) with
# nrnivmodl, through scripts/nrnivmodl.sh (which works around Debian 12's
# packaging of NEURON 8.2.2, see docs/neuron.md), and register the NEURON tests.
#
# Included from the top-level CMakeLists.txt when NM_WITH_NEURON and not
# NM_SANITIZE (nrnivmodl compiles with its own flags; the mechanisms are not
# sanitizer-instrumented).  Without nrnivmodl this is a STATUS message and
# nothing else.
#
# Results (for later steps):
#   target  neuron_mechanisms (ALL)   builds ${NM_NRNMECH_LIBRARY}
#   NM_MECH_DIR          build/mod: the folder to give neuron.load_mechanisms()
#   NM_NRNMECH_LIBRARY   build/mod/<arch>/.libs/libnrnmech.so (nrniv -dll ...)
#   NM_NRNIV_EXECUTABLE, NM_NEURON_PYTHON
#
# Linking the mechanisms against libneuromap (VERBATIM code calling the C API)
# is controlled by NM_MECH_LINK_NEUROMAP: the include and link flags are the
# two variables NM_MECH_INCFLAGS and NM_MECH_LOADFLAGS below.

find_program(NM_NRNIVMODL_EXECUTABLE nrnivmodl DOC "NEURON's nrnivmodl")
find_program(NM_NRNIV_EXECUTABLE nrniv DOC "NEURON's nrniv")
if(NOT EXISTS "${NM_NRNIVMODL_EXECUTABLE}" OR NOT EXISTS "${NM_NRNIV_EXECUTABLE}")
  message(STATUS "NEURON: nrnivmodl/nrniv not found: the NEURON mechanisms and tests are skipped")
  return()
endif()

option(NM_MECH_LINK_NEUROMAP "Link the NEURON mechanisms against libneuromap" ON)

# nrnivmodl writes into a folder named after the architecture it was built
# for (MODSUBDIR=x86_64 on amd64); read it from the script itself.
file(STRINGS ${NM_NRNIVMODL_EXECUTABLE} _nm_modsubdir REGEX "^MODSUBDIR=" LIMIT_COUNT 1)
string(REGEX REPLACE "^MODSUBDIR=\"?([^\"]*)\"?$" "\\1" NM_NRN_MODSUBDIR "${_nm_modsubdir}")
if(NOT NM_NRN_MODSUBDIR)
  set(NM_NRN_MODSUBDIR ${CMAKE_SYSTEM_PROCESSOR})
endif()

file(GLOB NM_MOD_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/mod/*.mod)
if(NOT NM_MOD_FILES)
  message(STATUS "NEURON: no mod files in ${PROJECT_SOURCE_DIR}/mod")
  return()
endif()

set(NM_MECH_DIR ${PROJECT_BINARY_DIR}/mod)
set(NM_NRNMECH_LIBRARY ${NM_MECH_DIR}/${NM_NRN_MODSUBDIR}/.libs/libnrnmech.so)

# Flags for the mod files' C code and for linking libnrnmech.so.  Each is ONE
# string (nrnivmodl keeps only the last -incflags / -loadflags given).
set(NM_MECH_INCFLAGS "-I${PROJECT_SOURCE_DIR}/include")
set(NM_MECH_LOADFLAGS "")
set(NM_MECH_DEPENDS ${NM_MOD_FILES} ${PROJECT_SOURCE_DIR}/scripts/nrnivmodl.sh
    ${PROJECT_SOURCE_DIR}/include/neuromap.h ${CMAKE_CURRENT_LIST_FILE})
if(NM_MECH_LINK_NEUROMAP AND TARGET neuromap)
  # rpath to the build tree's lib folder: nrniv/python find libneuromap.so
  # without LD_LIBRARY_PATH.  DEPENDS on the target relinks libnrnmech.so
  # whenever libneuromap is rebuilt.  The two $ORIGIN entries (one per depth
  # of x86_64/libnrnmech.so and x86_64/.libs/libnrnmech.so) are for the
  # installed copies under LIBDIR/neuromap, whose RUNPATH loses the build
  # folder at install (cmake/NeuromapInstall.cmake).  nrnivmodl gets
  # \$$ORIGIN: nrnmech_makefile's make turns $$ into $ and the shell drops
  # the backslash, so the linker sees $ORIGIN.
  set(NM_MECH_LOADFLAGS
      "-L$<TARGET_FILE_DIR:neuromap> -lneuromap -Wl,-rpath,$<TARGET_FILE_DIR:neuromap> -Wl,-rpath,\\$$ORIGIN/../.. -Wl,-rpath,\\$$ORIGIN/../../..")
  list(APPEND NM_MECH_DEPENDS neuromap)
endif()

file(GLOB _nm_mod_names RELATIVE ${PROJECT_SOURCE_DIR}/mod ${PROJECT_SOURCE_DIR}/mod/*.mod)
string(REPLACE ";" " " _nm_mod_names "${_nm_mod_names}")
add_custom_command(
  OUTPUT ${NM_NRNMECH_LIBRARY}
  BYPRODUCTS ${NM_MECH_DIR}/${NM_NRN_MODSUBDIR}/libnrnmech.so
             ${NM_MECH_DIR}/${NM_NRN_MODSUBDIR}/special
  COMMAND ${CMAKE_COMMAND} -E env NRNIVMODL=${NM_NRNIVMODL_EXECUTABLE}
          bash ${PROJECT_SOURCE_DIR}/scripts/nrnivmodl.sh -o ${NM_MECH_DIR}
          -incflags "${NM_MECH_INCFLAGS}" -loadflags "${NM_MECH_LOADFLAGS}"
          ${NM_MOD_FILES}
  DEPENDS ${NM_MECH_DEPENDS}
  COMMENT "nrnivmodl: building NEURON mechanisms (${_nm_mod_names})"
  VERBATIM)
add_custom_target(neuron_mechanisms ALL DEPENDS ${NM_NRNMECH_LIBRARY})
message(STATUS "NEURON: mechanisms -> ${NM_NRNMECH_LIBRARY}")

# The Python that can import neuron: Debian's /usr/bin/python3, not whatever
# python3 comes first on PATH (see docs/neuron.md).
set(NM_NEURON_PYTHON "" CACHE FILEPATH "Python interpreter with NEURON's module")
if(NOT NM_NEURON_PYTHON)
  find_program(NM_PATH_PYTHON3 python3)
  mark_as_advanced(NM_PATH_PYTHON3)
  foreach(_nm_py /usr/bin/python3 ${NM_PATH_PYTHON3})
    if(EXISTS ${_nm_py})
      execute_process(COMMAND ${_nm_py} -c "import neuron, numpy"
                      RESULT_VARIABLE _nm_py_rc OUTPUT_QUIET ERROR_QUIET)
      if(_nm_py_rc EQUAL 0)
        set(NM_NEURON_PYTHON ${_nm_py} CACHE FILEPATH
            "Python interpreter with NEURON's module" FORCE)
        break()
      endif()
    endif()
  endforeach()
endif()
if(NOT NM_NEURON_PYTHON)
  message(STATUS "NEURON: no Python that can import neuron and numpy: NEURON Python tests skipped")
endif()

add_subdirectory(${PROJECT_SOURCE_DIR}/tests/neuron ${PROJECT_BINARY_DIR}/tests/neuron)

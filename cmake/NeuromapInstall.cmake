# NeuromapInstall.cmake -- what `cmake --install BUILD --prefix P` puts where,
# and the Debian package (`cpack -G DEB` in the build folder).  docs/install.md
# shows how each piece is used.
#
#   P/lib/libneuromap.so.0.1.0 (SONAME libneuromap.so.0) + .so.0, .so links
#   P/include/neuromap.h
#   P/bin/neuromap                 (RUNPATH $ORIGIN/../lib)
#   P/bin/neuromap-nrnivmodl       your mod folder + neuromap's mechanisms
#   P/lib/pkgconfig/neuromap.pc    relocatable (prefix from ${pcfiledir})
#   P/lib/cmake/neuromap/          find_package(neuromap): neuromap::neuromap
#   P/lib/neuromap/x86_64/.libs/libnrnmech.so   the compiled mechanisms, if
#                                  built (the folder for neuron.load_mechanisms)
#   P/share/neuromap/{mod,hoc,examples}
#   P/libexec/neuromap/nrnivmodl.sh  (the driver behind neuromap-nrnivmodl)
#   P/$NM_PYTHON_INSTALL_DIR/neuromap  the Python package, with _install.py
#                                  (written at install time: where the library,
#                                  mechanisms and hoc templates are, relative to it)
#
# Every installed path refers to the others relatively, so the same files
# work under any prefix, under DESTDIR and inside the .deb (prefix /usr).
# Included from the top-level CMakeLists.txt after NeuronMechanisms.cmake
# (which sets NM_NRNMECH_LIBRARY, NM_MECH_DIR, NM_NRN_MODSUBDIR if built).

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(NM_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/neuromap)
set(NM_SHARE_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/neuromap)
set(NM_MECH_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/neuromap)
set(NM_LIBEXEC_INSTALL_DIR ${CMAKE_INSTALL_LIBEXECDIR}/neuromap)

# ---- Python destination --------------------------------------------------
# Debian's /usr/bin/python3 searches /usr/local/lib/python3.X/dist-packages
# (for the default prefix /usr/local) and /usr/lib/python3.X/dist-packages
# (for /usr, the .deb), not <prefix>/lib/python3/dist-packages under
# /usr/local: the default is lib/python3.X/dist-packages of the Python NEURON
# uses (site-packages on a non-Debian Python).
if(NOT DEFINED NM_PYTHON_INSTALL_DIR)
  set(_nm_py "${NM_NEURON_PYTHON}")
  if(NOT _nm_py AND EXISTS /usr/bin/python3)
    set(_nm_py /usr/bin/python3)
  endif()
  set(_nm_pydir "")
  if(_nm_py)
    execute_process(COMMAND ${_nm_py} -c
      "import sys; d = 'dist-packages' if any(p.endswith('dist-packages') for p in sys.path) else 'site-packages'; print('lib/python%d.%d/%s' % (sys.version_info[0], sys.version_info[1], d))"
      OUTPUT_VARIABLE _nm_pydir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _nm_rc ERROR_QUIET)
    if(NOT _nm_rc EQUAL 0)
      set(_nm_pydir "")
    endif()
  endif()
  if(NOT _nm_pydir)
    set(_nm_pydir lib/python3/dist-packages)
  endif()
  set(NM_PYTHON_INSTALL_DIR "${_nm_pydir}" CACHE STRING
      "Where the Python package neuromap is installed (relative to the prefix, or absolute)")
endif()
# The Python version the default targets (the .deb depends on it).
string(REGEX MATCH "python3\\.([0-9]+)" _nm_pyver "${NM_PYTHON_INSTALL_DIR}")
set(NM_PYTHON_MINOR "${CMAKE_MATCH_1}")

# ---- The library, its header, the command ---------------------------------
install(TARGETS neuromap EXPORT neuromapTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/neuromap.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# RUNPATH relative to the executable, so bin/neuromap finds lib/ under any
# prefix (and /usr/local/lib without ldconfig).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(_nm_bin_to_lib "${CMAKE_INSTALL_LIBDIR}")
  set(_nm_rpath "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _nm_bin_to_lib /nm/${CMAKE_INSTALL_BINDIR} /nm/${CMAKE_INSTALL_LIBDIR})
  set(_nm_rpath "$ORIGIN/${_nm_bin_to_lib}")
endif()
if(TARGET neuromap_cli)
  set_target_properties(neuromap_cli PROPERTIES INSTALL_RPATH "${_nm_rpath}")
  install(TARGETS neuromap_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# ---- pkg-config ----------------------------------------------------------
# prefix from ${pcfiledir}: the file stays right wherever the tree is
# installed (DESTDIR, cpack's staging, a moved prefix).  The library is
# shared and its header includes only <stddef.h> and <stdint.h>, so a program
# needs only -lneuromap; --static adds the private dependencies (GSL without
# its own CBLAS: OpenBLAS provides cblas_*).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  message(FATAL_ERROR "neuromap: CMAKE_INSTALL_LIBDIR must be relative to the prefix "
          "(got ${CMAKE_INSTALL_LIBDIR}) for the relocatable pkg-config and CMake files")
endif()
file(RELATIVE_PATH NM_PC_TO_PREFIX /nm/${CMAKE_INSTALL_LIBDIR}/pkgconfig /nm)
string(REGEX REPLACE "/$" "" NM_PC_TO_PREFIX "${NM_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/neuromap.pc.in ${PROJECT_BINARY_DIR}/neuromap.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/neuromap.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- CMake package: find_package(neuromap) -> neuromap::neuromap ------------
install(EXPORT neuromapTargets NAMESPACE neuromap:: DESTINATION ${NM_CMAKE_INSTALL_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/neuromapConfig.cmake.in
  ${PROJECT_BINARY_DIR}/neuromapConfig.cmake INSTALL_DESTINATION ${NM_CMAKE_INSTALL_DIR}
  PATH_VARS NM_SHARE_INSTALL_DIR CMAKE_INSTALL_BINDIR)
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/neuromapConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/neuromapConfig.cmake
  ${PROJECT_BINARY_DIR}/neuromapConfigVersion.cmake DESTINATION ${NM_CMAKE_INSTALL_DIR})

# ---- NEURON: mod files, hoc templates, examples, the compiled mechanisms ----
install(DIRECTORY ${PROJECT_SOURCE_DIR}/mod/ DESTINATION ${NM_SHARE_INSTALL_DIR}/mod
  FILES_MATCHING PATTERN "*.mod" PATTERN "*.inc" PATTERN "*.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/hoc/ DESTINATION ${NM_SHARE_INSTALL_DIR}/hoc
  FILES_MATCHING PATTERN "*.hoc")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/ DESTINATION ${NM_SHARE_INSTALL_DIR}/examples
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
  PATTERN "__pycache__" EXCLUDE PATTERN "*.pyc" EXCLUDE
  PATTERN "*.sh" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                             WORLD_READ WORLD_EXECUTE)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/nrnivmodl.sh DESTINATION ${NM_LIBEXEC_INSTALL_DIR})

# neuromap-nrnivmodl finds everything relative to itself.
file(RELATIVE_PATH NM_BIN_TO_PREFIX /nm/${CMAKE_INSTALL_BINDIR} /nm)
configure_file(${PROJECT_SOURCE_DIR}/cmake/neuromap-nrnivmodl.in
  ${PROJECT_BINARY_DIR}/neuromap-nrnivmodl @ONLY)
install(PROGRAMS ${PROJECT_BINARY_DIR}/neuromap-nrnivmodl DESTINATION ${CMAKE_INSTALL_BINDIR})

# The compiled mechanisms (build/mod/x86_64/{,.libs/}libnrnmech.so), linked
# with RUNPATH entries $ORIGIN/../.. and $ORIGIN/../../.. (one per depth,
# cmake/NeuronMechanisms.cmake): installed under LIBDIR/neuromap both resolve
# to LIBDIR.  The build tree's lib folder is taken out of the installed
# copies' RUNPATH, so they never load a build tree's libneuromap.
set(NM_INSTALL_MECHANISMS OFF)
if(TARGET neuron_mechanisms AND NM_NRNMECH_LIBRARY)
  set(NM_INSTALL_MECHANISMS ON)
  set(_nm_arch ${NM_NRN_MODSUBDIR})
  install(FILES ${NM_MECH_DIR}/${_nm_arch}/libnrnmech.so
    DESTINATION ${NM_MECH_INSTALL_DIR}/${_nm_arch})
  install(FILES ${NM_NRNMECH_LIBRARY} DESTINATION ${NM_MECH_INSTALL_DIR}/${_nm_arch}/.libs)
  if(NM_MECH_LINK_NEUROMAP)
    # The RUNPATH is "...:BUILD/lib:$ORIGIN/../..:$ORIGIN/../../..:..." (the
    # order of NM_MECH_LOADFLAGS); the three entries become the last two (an
    # empty entry would mean the current folder).
    set(_nm_origin "$ORIGIN/../..:$ORIGIN/../../..")
    install(CODE "
      foreach(_f \"${_nm_arch}/libnrnmech.so\" \"${_nm_arch}/.libs/libnrnmech.so\")
        file(RPATH_CHANGE FILE \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${NM_MECH_INSTALL_DIR}/\${_f}\"
             OLD_RPATH \"$<TARGET_FILE_DIR:neuromap>:${_nm_origin}\" NEW_RPATH \"${_nm_origin}\")
      endforeach()")
  endif()
endif()

# ---- Python package ------------------------------------------------------
install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/neuromap DESTINATION ${NM_PYTHON_INSTALL_DIR}
  FILES_MATCHING PATTERN "*.py" PATTERN "_install.py" EXCLUDE PATTERN "__pycache__" EXCLUDE)
# neuromap/_install.py, written at install time with the paths relative to
# the package folder (runtime.find_library, neuron_support.find_mechdir and
# hoc_dir read it).
set(_nm_abs_py "${NM_PYTHON_INSTALL_DIR}")
if(NOT IS_ABSOLUTE "${_nm_abs_py}")
  set(_nm_abs_py "\${CMAKE_INSTALL_PREFIX}/${_nm_abs_py}")
endif()
if(NM_INSTALL_MECHANISMS)
  set(_nm_mech_code "file(RELATIVE_PATH NM_REL_MECHDIR \"\${_pkg}\" \"\${CMAKE_INSTALL_PREFIX}/${NM_MECH_INSTALL_DIR}\")")
else()
  set(_nm_mech_code "set(NM_REL_MECHDIR \"\")")
endif()
install(CODE "
  set(_pkg \"${_nm_abs_py}/neuromap\")
  file(RELATIVE_PATH NM_REL_LIBDIR \"\${_pkg}\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}\")
  file(RELATIVE_PATH NM_REL_SHARE \"\${_pkg}\" \"\${CMAKE_INSTALL_PREFIX}/${NM_SHARE_INSTALL_DIR}\")
  ${_nm_mech_code}
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(_out \"\$ENV{DESTDIR}\${_pkg}/_install.py\")
  message(STATUS \"Installing: \${_out}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/cmake/neuromap_install.py.in\" \"\${_out}\" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_out}\")")

# ---- Debian package: cpack -G DEB ---------------------------------------
# Runtime dependencies (Debian 12): what dpkg-shlibdeps derives for
# libneuromap and the command (libc6 (>= 2.34), libgsl27 (>= 2.7.1) and
# libopenblas0, whose shlibs file names the metapackage rather than
# libopenblas0-pthread that holds libopenblas.so.0), numpy for the Python
# package, and the Python whose dist-packages folder it is installed in.  NEURON is only
# recommended: the library, the command and the offline Python API work
# without it; neuromap-nrnivmodl needs neuron-dev and a C compiler.
set(NM_DEB_MAINTAINER "neuromap developers <neuromap@invalid>" CACHE STRING
    "Maintainer field of the .deb")
set(CPACK_PACKAGE_NAME neuromap)
set(CPACK_PACKAGE_VENDOR neuromap)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "learned neuron dynamics from one voltage series (library, command, NEURON plugin)")
set(CPACK_PACKAGE_DESCRIPTION
    "libneuromap (C11), the neuromap command, NEURON mechanisms (NeuroMapCell,\nNeuroMapClamp, srk), hoc templates and the Python package neuromap.")
set(CPACK_PACKAGE_INSTALL_DIRECTORY neuromap)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${NM_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(_nm_deb_depends "libc6 (>= 2.34), libgsl27 (>= 2.7.1), libopenblas0, python3-numpy")
if(NM_PYTHON_MINOR)
  math(EXPR _nm_next "${NM_PYTHON_MINOR} + 1")
  string(APPEND _nm_deb_depends ", python3 (>= 3.${NM_PYTHON_MINOR}), python3 (<< 3.${_nm_next})")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_nm_deb_depends}")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-neuron, neuron")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "neuron-dev, python3-matplotlib")
# shlibs file and the ldconfig trigger for libneuromap.so.0.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
include(CPack)

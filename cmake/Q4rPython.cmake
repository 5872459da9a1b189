# The Python package (python/q4repack, pure Python) as the install component "python": installed
# under <prefix>/${Q4R_PYTHON_INSTALL_DIR} by `cmake --install` when Q4R_INSTALL_PYTHON is ON, or
# on request with `cmake --install <build> --component python`. A generated _install_config.py
# tells the package where the installed libq4repack.so.<major> is, relative to itself, so a
# different `--prefix` at install time still works.
option(Q4R_INSTALL_PYTHON "cmake --install also installs the Python package (docs/PYTHON.md)" OFF)
set(Q4R_PYTHON_INSTALL_DIR "lib/python3/dist-packages" CACHE STRING
    "Where the Python package goes, relative to the install prefix")

if(IS_ABSOLUTE "${Q4R_PYTHON_INSTALL_DIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  if(Q4R_INSTALL_PYTHON)
    message(FATAL_ERROR "Q4R_INSTALL_PYTHON needs Q4R_PYTHON_INSTALL_DIR and CMAKE_INSTALL_LIBDIR "
                        "relative to the prefix")
  endif()
  return()
endif()
if(Q4R_INSTALL_PYTHON)
  set(Q4R_PY_INSTALL_ALL "")
else()
  set(Q4R_PY_INSTALL_ALL EXCLUDE_FROM_ALL)
endif()
file(RELATIVE_PATH Q4R_PY_LIB_RELDIR "/p/${Q4R_PYTHON_INSTALL_DIR}/q4repack"
     "/p/${CMAKE_INSTALL_LIBDIR}")
set(Q4R_PY_LIBRARY_RELPATH "${Q4R_PY_LIB_RELDIR}/libq4repack.so.${PROJECT_VERSION_MAJOR}")
cmake_path(NORMAL_PATH Q4R_PY_LIBRARY_RELPATH)
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/q4repack_install_config.py.in
               ${CMAKE_CURRENT_BINARY_DIR}/python/_install_config.py @ONLY)
install(DIRECTORY python/q4repack DESTINATION ${Q4R_PYTHON_INSTALL_DIR} COMPONENT python
        ${Q4R_PY_INSTALL_ALL} FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/python/_install_config.py
        DESTINATION ${Q4R_PYTHON_INSTALL_DIR}/q4repack COMPONENT python ${Q4R_PY_INSTALL_ALL})

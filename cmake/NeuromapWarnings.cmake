# Warning flags for project code (applied per target with nm_warnings()).
set(NM_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2
    -Wundef -Wvla)
function(nm_warnings target)
  target_compile_options(${target} PRIVATE ${NM_WARNING_FLAGS})
  if(NM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

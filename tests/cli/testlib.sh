# testlib.sh -- helpers shared by the command-line test scripts (sourced).
#   fail MSG                         count a failure
#   expect_fail CODE NEEDLE -- CMD   CMD must exit with CODE and say NEEDLE on stderr
#   expect_ok CMD                    CMD must succeed
#   no_file PATH                     neither PATH nor a temporary of it may exist
#   finish NAME                      exit 1 if anything failed, else report success
fails=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
expect_fail() {
  local code="$1" needle="$2"
  shift 3
  local err rc
  err="$("$@" 2>&1 >/dev/null)"
  rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -qF -- "$needle" <<<"$err"; then
    fail "$* -> exit $rc (want $code), stderr: $err (want '$needle')"
  fi
}
expect_ok() {
  local err
  if ! err="$("$@" 2>&1 >/dev/null)"; then fail "(should succeed) $*: $err"; fi
}
no_file() {
  if ls "$1"* >/dev/null 2>&1; then fail "$1 (or a temporary of it) exists after a failed command"; fi
}
finish() {
  if [ "$fails" -ne 0 ]; then
    echo "$1: $fails failure(s)"
    exit 1
  fi
  echo "$1: all checks passed"
}

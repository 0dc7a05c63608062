#!/usr/bin/python3
"""Run every command block of a Markdown file as written (issue 14).

    run_doc_commands.py DOC.md --src SOURCE --build BUILD --work SCRATCH
                        [--model M.nmap] [--input-model IN.nmap] [--list]

Blocks: fenced ```sh / ```bash / ```console / ```shell (bash), ```python
(/usr/bin/python3), ```hoc (nrniv with the built mechanisms), and indented
(4-space) blocks whose first line looks like a command (a program or path
we ship: neuromap, build/..., scripts/..., python3, nrniv, cmake, ...).
Other blocks (```c, ```cmake, output listings, formulas) are not commands;
they are listed, not run.

Each block runs in SCRATCH/tree, a view of the source tree: every top-level
entry of SOURCE is a symlink, except build/ -> BUILD and out/, a real
folder holding out/srk.nmap (the small fixture model standing in for the
one scripts/demo.sh trains).  So relative paths in the docs resolve as they
do for a user after the README's commands.  PATH starts with BUILD/bin,
HOME is SCRATCH/home, NEUROMAP_* are unset (the package finds build/ next
to python/ as in a source tree), python blocks get PYTHONPATH=python.
Blocks of one file run in order in the same folder (files one block writes
are there for the next); each shell block is a fresh `bash -e`.

Annotations: HTML comments right before a block (only blank lines or other
annotations between), one directive each, arguments in backticks and a
reason after "why:" (required: the list of changes below is printed):

    <!-- doc-test: skip why: ... -->               not run (listed with the reason)
    <!-- doc-test: text why: ... -->               not a command (a listing, a synopsis)
    <!-- doc-test: setup `CMD` why: ... -->        bash CMD runs first, in the same folder
    <!-- doc-test: env `NAME=VALUE` why: ... -->   environment of the block ($VARS expanded)
    <!-- doc-test: sub `OLD` `NEW` why: ... -->    replace text (must occur) before running
    <!-- doc-test: omit `REGEX` why: ... -->       drop the lines that match
    <!-- doc-test: prepend `CODE` why: ... -->     CODE (\\n: a new line) put before the
                                                   block: definitions a fragment assumes
    <!-- doc-test: file `NAME` why: ... -->        write the block to NAME, do not run it
    <!-- doc-test: timeout `SECONDS` why: ... -->  instead of 60 s

Setup commands see DOCTEST_MODEL and DOCTEST_INPUT_MODEL (the fixtures).
Exit status: 0 all ran, 1 a block failed (file:line, exit code and the
tail of its output are printed), 77 nothing failed but blocks that need
NEURON were skipped because the mechanisms are not built.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)")
ANNOT = re.compile(r"<!--\s*doc-test:\s*(.*?)-->", re.S)
SHELL_LANGS = {"sh", "bash", "console", "shell"}
RUN_LANGS = SHELL_LANGS | {"python", "hoc"}
# the first line of an indented block that is a command
COMMANDLIKE = re.compile(
    r"^(\$ )?([A-Za-z_][A-Za-z0-9_]*=\S*\s+)*"
    r"(neuromap\b|build[\w-]*/|scripts/|bench/|examples/|tests/|python3?\b|/usr/bin/|"
    r"ctest\b|cmake\b|cpack\b|nrniv\b|mpiexec\b|for\s|cd\s|sudo\s|cc\s|gcc\s|make\b|\./)")
NEEDS_NEURON = re.compile(r"nrniv|neuron|NeuroMap|\bcells\b|record_|load_mechanisms|mpiexec|\.hoc\b")
DEFAULT_TIMEOUT = 60
TAIL_LINES = 40


class Block:
    def __init__(self, path, line, lang, text, annots, indented=False):
        self.path, self.line, self.lang, self.text = path, line, lang, text
        self.annots, self.indented = annots, indented

    @property
    def where(self):
        return "%s:%d" % (self.path, self.line)


def parse_annotation(body, where):
    m = re.match(r"([a-z-]+)\s*(.*)", body.strip(), re.S)
    if not m:
        raise SystemExit("%s: malformed doc-test annotation: %r" % (where, body))
    kind, rest = m.group(1), m.group(2)
    if "why:" not in rest:
        raise SystemExit("%s: doc-test annotation '%s' has no reason (why: ...)" % (where, kind))
    head, why = rest.split("why:", 1)
    args = re.findall(r"`([^`]*)`", head)
    nargs = {"skip": 0, "text": 0, "setup": 1, "env": 1, "sub": 2, "omit": 1, "file": 1, "prepend": 1,
             "timeout": 1}
    if kind not in nargs:
        raise SystemExit("%s: unknown doc-test annotation '%s'" % (where, kind))
    if len(args) != nargs[kind]:
        raise SystemExit("%s: doc-test %s takes %d `argument(s)`, got %d"
                         % (where, kind, nargs[kind], len(args)))
    return kind, args, " ".join(why.split())


def parse(path, display):
    """Blocks of a Markdown file, with the annotations before each."""
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks, pending, i, prev_blank = [], [], 0, True
    while i < len(lines):
        line = lines[i]
        if "<!--" in line and "doc-test" in line:
            j, chunk = i, line
            while "-->" not in chunk and j + 1 < len(lines):
                j += 1
                chunk += "\n" + lines[j]
            for body in ANNOT.findall(chunk):
                pending.append(parse_annotation(body, "%s:%d" % (display, i + 1)))
            i, prev_blank = j + 1, True
            continue
        m = FENCE.match(line)
        if m:
            indent, fence, lang = m.group(1), m.group(2), m.group(3).lower()
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            blocks.append(Block(display, start, lang or "text", "\n".join(body) + "\n", pending))
            pending, i, prev_blank = [], i + 1, True
            continue
        if prev_blank and line.startswith("    ") and line.strip():
            start, body = i + 1, []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            while body and not body[-1].strip():
                body.pop()
            first = body[0].strip()
            lang = "sh" if COMMANDLIKE.match(first) else "text"
            blocks.append(Block(display, start, lang, "\n".join(body) + "\n", pending, True))
            pending, prev_blank = [], True
            continue
        if line.strip():
            if pending:
                raise SystemExit("%s:%d: doc-test annotation is not followed by a block"
                                 % (display, i))
            prev_blank = False
        else:
            prev_blank = True
        i += 1
    if pending:
        raise SystemExit("%s: doc-test annotation at the end is not followed by a block" % display)
    return blocks


def make_tree(src, build, work, model):
    tree = os.path.join(work, "tree")
    if os.path.lexists(work):
        shutil.rmtree(work)
    os.makedirs(tree)
    os.makedirs(os.path.join(work, "home"))
    for name in sorted(os.listdir(src)):
        if name in (".git", "out") or name.startswith("build"):
            continue
        os.symlink(os.path.join(src, name), os.path.join(tree, name))
    os.symlink(os.path.abspath(build), os.path.join(tree, "build"))
    os.makedirs(os.path.join(tree, "out"))
    if model:
        shutil.copyfile(model, os.path.join(tree, "out", "srk.nmap"))
    return tree


def base_env(args, tree, work):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROMAP_")}
    env["PATH"] = os.path.join(os.path.abspath(args.build), "bin") + os.pathsep + env.get("PATH", "")
    env["HOME"] = os.path.join(work, "home")
    env["PWD"] = tree
    env["PYTHONDONTWRITEBYTECODE"] = "1"   # no __pycache__ in the source tree
    env["NEURON_MODULE_OPTIONS"] = "-nogui"
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.pop("PYTHONPATH", None)
    env.pop("DISPLAY", None)
    env["MPLBACKEND"] = "Agg"
    env["DOCTEST_MODEL"] = os.path.abspath(args.model) if args.model else ""
    env["DOCTEST_INPUT_MODEL"] = os.path.abspath(args.input_model) if args.input_model else ""
    return env


def run(cmd, cwd, env, timeout, stdin_text=None):
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, input=stdin_text,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace", start_new_session=True)
        return p.returncode, p.stdout, time.time() - t0
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return "timeout after %d s" % timeout, out, time.time() - t0


def tail(text, n=TAIL_LINES):
    lines = text.rstrip("\n").split("\n")
    return "\n".join(("    | " + s) for s in lines[-n:])


def numbered(block, text):
    return "\n".join("    %4d  %s" % (block.line + k, s) for k, s in enumerate(text.rstrip("\n").split("\n")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("doc")
    ap.add_argument("--src", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--model", help="the fixture model copied to out/srk.nmap")
    ap.add_argument("--input-model", help="a fixture model with an input channel")
    ap.add_argument("--nrniv", default=shutil.which("nrniv") or "nrniv")
    ap.add_argument("--list", action="store_true", help="list the blocks, run nothing")
    args = ap.parse_args()
    src = os.path.abspath(args.src)
    display = os.path.relpath(os.path.abspath(args.doc), src)
    blocks = parse(args.doc, display)

    mechlib = os.path.join(os.path.abspath(args.build), "mod", "x86_64", ".libs", "libnrnmech.so")
    have_neuron = os.path.exists(mechlib)
    work = os.path.abspath(args.work)
    tree = "(listing)"
    env0 = {"HOME": "$HOME"}
    if not args.list:
        tree = make_tree(src, args.build, work, args.model)
        env0 = base_env(args, tree, work)
    print("%s: %d blocks; run from %s" % (display, len(blocks), tree))

    failed, ran, skipped, notrun, neuron_skipped = [], 0, [], [], []
    for k, b in enumerate(blocks):
        kinds = [a[0] for a in b.annots]
        if "skip" in kinds or "text" in kinds:
            why = [a[2] for a in b.annots if a[0] in ("skip", "text")][0]
            tag = "SKIP" if "skip" in kinds else "TEXT"
            print("%s %s (%s): %s" % (tag, b.where, b.lang, why))
            skipped.append((b, why))
            continue
        if b.lang not in RUN_LANGS:
            first = b.text.strip().split("\n")[0][:70]
            why = ("indented text, not a command" if b.indented else "```%s block" % b.lang)
            print("NOT RUN %s: %s: %s" % (b.where, why, first))
            notrun.append(b)
            continue
        text = b.text
        env = dict(env0)
        timeout = DEFAULT_TIMEOUT
        setups, target = [], None
        for kind, a, why in b.annots:
            if kind == "sub":
                if a[0] not in text:
                    failed.append(b)
                    print("FAIL %s: doc-test sub: `%s` is not in the block" % (b.where, a[0]))
                    text = None
                    break
                text = text.replace(a[0], a[1])
            elif kind == "omit":
                rx = re.compile(a[0])
                if not any(rx.search(s) for s in text.split("\n")):
                    failed.append(b)
                    print("FAIL %s: doc-test omit: no line matches /%s/" % (b.where, a[0]))
                    text = None
                    break
                text = "\n".join(": # omitted by doc-test" if rx.search(s) else s
                                 for s in text.split("\n"))
            elif kind == "prepend":
                text = a[0].replace("\\n", "\n") + "\n" + text
            elif kind == "env":
                name, _, value = a[0].partition("=")
                env[name] = os.path.expandvars(value.replace("$HOME", env["HOME"]).replace("$PWD", tree))
            elif kind == "setup":
                setups.append(a[0])
            elif kind == "file":
                target = a[0]
            elif kind == "timeout":
                timeout = float(a[0])
        if text is None:
            continue
        for kind, a, why in b.annots:
            print("  %s %s %s: %s" % (b.where, kind, " ".join("`%s`" % x for x in a), why))
        if args.list:
            print("RUN %s (%s)" % (b.where, b.lang))
            continue
        if not have_neuron and (b.lang == "hoc" or NEEDS_NEURON.search(text)):
            print("SKIP %s (%s): needs NEURON (%s not built)" % (b.where, b.lang, mechlib))
            neuron_skipped.append(b)
            continue
        if target:
            with open(os.path.join(tree, target), "w") as f:
                f.write(text)
            print("FILE %s -> %s" % (b.where, target))
            continue
        ok = True
        for cmd in setups:
            rc, out, dt = run(["bash", "-e", "-c", cmd], tree, env, timeout)
            if rc != 0:
                print("FAIL %s: doc-test setup `%s`: exit %s\n%s" % (b.where, cmd, rc, tail(out)))
                failed.append(b)
                ok = False
                break
        if not ok:
            continue
        scr = os.path.join(work, "block_%02d_line%d" % (k, b.line))
        if b.lang in SHELL_LANGS:
            with open(scr + ".sh", "w") as f:
                f.write(text)
            cmd = ["bash", "-e", scr + ".sh"]
        elif b.lang == "python":
            with open(scr + ".py", "w") as f:
                f.write(text)
            env["PYTHONPATH"] = env.get("PYTHONPATH") or os.path.join(tree, "python")
            cmd = ["/usr/bin/python3", scr + ".py"]
        else:  # hoc
            with open(scr + ".hoc", "w") as f:
                f.write(text)
            cmd = [args.nrniv, "-nogui", "-nobanner", "-dll", mechlib, scr + ".hoc", "-c", "quit()"]
        rc, out, dt = run(cmd, tree, env, timeout, stdin_text="")
        ran += 1
        # nrniv goes on after a hoc error (exit 0): its message starts "nrniv: "
        bad = rc != 0 or (b.lang == "hoc" and re.search(r"^nrniv: |near line", out, re.M))
        if bad:
            failed.append(b)
            print("FAIL %s (%s): exit %s after %.1f s\n  block as run:\n%s\n  output (tail):\n%s"
                  % (b.where, b.lang, rc, dt, numbered(b, text), tail(out)))
        else:
            print("ok   %s (%s) %.1f s" % (b.where, b.lang, dt))

    print("%s: %d ran, %d failed, %d skipped or text by annotation, %d not commands, %d need NEURON"
          % (display, ran, len(failed), len(skipped), len(notrun), len(neuron_skipped)))
    if failed:
        print("FAILED: " + ", ".join(b.where for b in failed))
        return 1
    if neuron_skipped:
        return 77
    return 0


if __name__ == "__main__":
    try:
        status = main()
    finally:
        # the scratch folder is inside the build folder: leave no build/
        # symlink behind (a cycle for anything that walks the build folder)
        for a, b in zip(sys.argv, sys.argv[1:]):
            if a == "--work":
                link = os.path.join(os.path.abspath(b), "tree", "build")
                if os.path.islink(link):
                    os.unlink(link)
    sys.exit(status)

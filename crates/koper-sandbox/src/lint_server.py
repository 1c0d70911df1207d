"""koper's rpmlint server, run by the base root's own Python in the lint
sandbox (see lint.rs).

Most of what one rpmlint run costs is starting: importing its checks
compiles hundreds of regular expressions and the spell checker loads its
dictionary, about 0.3 s against a few hundredths for checking a small
package. The server pays that once, then checks each request in a child
forked from the warm process, so every check starts from the same clean
state and is exactly `rpmlint -- PACKAGES` with its usual output.

Protocol, one JSON object per line: the server prints `{"ready": true}`
(or `{"unsupported": "why"}` and exits), then for each request
`{"dir": D, "packages": [P, ...]}` read from stdin it writes rpmlint's
output to D/findings and prints `{"status": N}`, N being rpmlint's exit
status. It ends when stdin closes.
"""

import contextlib
import json
import os
import shutil
import signal
import sys
import time
import traceback

# Where a check may write besides its request directory; emptied after
# each check so that nothing of one check reaches the next.
SCRATCH = ("/tmp", "/var/tmp", "/run", "/dev/shm")


def reply(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def warm(cli):
    """Loads what every check needs: the checks' modules (their regular
    expressions), one Lint (the configuration) and the spell checker's
    dictionary, which rpmlint keeps per process."""
    with contextlib.redirect_stdout(sys.stderr):
        try:
            import importlib
            import pkgutil

            import rpmlint.checks

            for module in pkgutil.iter_modules(rpmlint.checks.__path__):
                importlib.import_module("rpmlint.checks." + module.name)
            from rpmlint.lint import Lint

            Lint(cli.process_lint_args([os.devnull]))
        except BaseException:
            traceback.print_exc()
        try:
            from rpmlint.spellcheck import Spellcheck

            Spellcheck()._init_checker()
        except BaseException:
            traceback.print_exc()


def undumpable():
    """Processes a check starts run as the same user; without this they
    could read or change the server's memory through ptrace."""
    try:
        import ctypes

        PR_SET_DUMPABLE = 4
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except BaseException:
        traceback.print_exc()


def check(cli, directory, packages):
    pid = os.fork()
    if pid == 0:
        status = 70
        try:
            os.chdir(directory)
            tmp = os.path.join(directory, "tmp")
            os.mkdir(tmp, 0o700)
            os.environ["TMPDIR"] = tmp
            os.environ["HOME"] = directory
            import tempfile

            tempfile.tempdir = tmp
            findings = os.open("findings", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            nothing = os.open(os.devnull, os.O_RDONLY)
            os.dup2(nothing, 0)
            os.dup2(findings, 1)
            os.dup2(findings, 2)
            sys.argv = ["rpmlint", "--"] + packages
            try:
                cli.lint()
                status = 0
            except SystemExit as e:
                if e.code is None:
                    status = 0
                elif isinstance(e.code, int):
                    status = e.code
                else:
                    print(e.code, file=sys.stderr)
                    status = 1
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(BaseException):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(status)
    _, waited = os.waitpid(pid, 0)
    if os.WIFEXITED(waited):
        return os.WEXITSTATUS(waited)
    return 128 + os.WTERMSIG(waited)


def end_leftovers():
    """Kills whatever the check left running (pid 1 is bubblewrap's) and
    empties the directories it could write to. False if something would
    not go."""
    me = os.getpid()
    for _ in range(200):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        if not others:
            break
        for pid in others:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)
    else:
        return False
    for top in SCRATCH:
        with contextlib.suppress(OSError):
            for name in os.listdir(top):
                path = os.path.join(top, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
    return True


def main():
    try:
        from rpmlint import cli

        cli.lint
        cli.process_lint_args
    except BaseException as e:
        reply({"unsupported": repr(e)})
        return
    warm(cli)
    undumpable()
    reply({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        status = check(cli, request["dir"], request["packages"])
        clean = end_leftovers()
        reply({"status": status})
        if not clean:
            # The builder starts a new server for the next check.
            return


main()

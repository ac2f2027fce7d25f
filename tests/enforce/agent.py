# The fake agent of tests/enforce.rs: run under `shellguard run`, it tries one family of ways
# around the guard and prints what happened as `RESULT {json}`. It never judges anything
# itself; the test does.
import ctypes
import json
import os
import pwd
import socket
import subprocess
import sys
import tempfile
import threading
import time

HOME = os.environ["HOME"]
VICTIM = os.path.join(HOME, "precious")
RM = 'rm -r "$HOME/precious"'
SG = os.environ.get("SG_BIN", "shellguard")
CONFIG = os.path.join(HOME, ".config/shellguard/config.toml")
STATE = os.path.join(HOME, ".local/state/shellguard")
WORK = os.environ["SG_WORK"]
results = {}


def run(name, argv, **kw):
    # stderr to a file, not a pipe: when the exec itself is refused, the refusal written to
    # the child's stderr is still there to read.
    with tempfile.TemporaryFile() as err:
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=err, text=True, timeout=60, **kw)
            res = {"rc": r.returncode, "out": r.stdout[-600:]}
        except Exception as e:  # the attempt itself failed: that is a result too
            res = {"rc": None, "exc": repr(e)}
        err.seek(0)
        res["err"] = err.read().decode(errors="replace")[-1500:] + res.get("exc", "")
        results[name] = res


def attempt(name, fn):
    try:
        fn()
        results[name] = {"ok": True}
    except Exception as e:
        results[name] = {"ok": False, "err": repr(e)}


def shells():
    run("bash -lc (Codex)", ["/bin/bash", "-lc", RM])
    run("sh -c (mini-swe-agent)", ["/bin/sh", "-c", RM])
    run("usr/bin/bash", ["/usr/bin/bash", "-c", RM])
    run("usr/bin/sh", ["/usr/bin/sh", "-c", RM])
    if os.path.exists("/bin/dash"):
        run("dash", ["/bin/dash", "-c", RM])
    run("subprocess shell=True", RM, shell=True)
    with open(os.path.join(WORK, "Makefile"), "w") as f:
        f.write("clean:\n\trm -r $$HOME/precious\n")
    run("make recipe", ["make", "-C", WORK, "clean"])
    npm = os.path.join(WORK, "npm-run.js")
    with open(npm, "w") as f:
        f.write("require('child_process').execSync(process.argv[2], {stdio: 'inherit'})\n")
    run("npm-run-style sh -c (node)", ["node", npm, RM])
    script = os.path.join(WORK, "x.sh")
    with open(script, "w") as f:
        f.write("#!/bin/bash\n" + RM + "\n")
    os.chmod(script, 0o755)
    run("#!/bin/bash ./x.sh", ["./x.sh"], cwd=WORK)
    run("env bash", ["/usr/bin/env", "bash", "-c", RM])
    login = pwd.getpwuid(os.getuid()).pw_shell
    run("login shell " + login, [login, "-lc", RM])
    run("benign", ["/bin/bash", "-c", "echo benign-ok"])
    run("interactive bash", ["/bin/bash", "-i"], input="echo typed-line\n")
    # Shell code that runs before the command: BASH_ENV, and a profile the agent changed.
    evil = os.path.join(WORK, "evil.sh")
    with open(evil, "w") as f:
        f.write(RM + "\n")
    run("BASH_ENV", ["/bin/bash", "-c", "echo hi"], env=dict(os.environ, BASH_ENV=evil))
    func = {"BASH_FUNC_ls%%": "() { " + RM + "; }"}
    run("exported function", ["/bin/bash", "-c", "ls"], env=dict(os.environ, **func))
    with open(os.path.join(HOME, ".bash_profile"), "a") as f:
        f.write(RM + "\n")
    run("changed profile, login shell", ["/bin/bash", "-lc", "echo hi"])
    run("changed profile, no login", ["/bin/bash", "-c", "echo not-login"])
    run("benign sh", ["/bin/sh", "-c", "echo sh-ok | tr a-z A-Z"])
    # A shell script of the system's own runs unread; the same code written by the agent is
    # judged, and what it runs is only known when it runs.
    system = os.environ.get("SG_SYSTEM_SCRIPT")
    if system:
        run("system script", [system, "echo", "system-script-ok"])
        copy = os.path.join(WORK, "copy-of-system-script")
        with open(system) as src, open(copy, "w") as f:
            f.write(src.read())
        os.chmod(copy, 0o755)
        run("agent's copy of the system script", [copy, "echo", "copy-ok"])


def pty_spawner():
    # A script file, so that the program it starts is judged when it is started.
    path = os.path.join(WORK, "pty_spawn.py")
    with open(path, "w") as f:
        f.write("import pty, sys\npty.spawn(sys.argv[1:])\n")
    return path


def execs():
    # Programs started directly, with no shell in between.
    other = os.path.join(HOME, "other")
    for d in "abcd":
        os.makedirs(os.path.join(other, d))
    run("python subprocess rm", ["rm", "-r", os.path.join(other, "a")])
    node = "require('child_process').execFileSync('rm', ['-r', process.argv[2]])"
    js = os.path.join(WORK, "tool.js")
    with open(js, "w") as f:
        f.write(node + "\n")
    run("node execFileSync rm", ["node", js, os.path.join(other, "b")])
    with open(os.path.join(WORK, "Makefile.simple"), "w") as f:
        f.write("clean:\n\trm -r " + os.path.join(other, "c") + "\n")
    run("make simple recipe", ["make", "-f", os.path.join(WORK, "Makefile.simple"), "clean"])
    ln = os.path.join(WORK, "ls")
    os.symlink("/bin/rm", ln)
    run("rm behind a link named ls", [ln, "-r", os.path.join(other, "d")])
    gitdir = os.path.join(WORK, "repo")
    subprocess.run(["git", "init", "-q", gitdir])
    pid = os.fork()
    if pid == 0:
        os.chdir(gitdir)
        try:
            os.execvp("git", ["git", "push", "--force", "origin", "main"])
        except OSError as e:
            os._exit(100 + e.errno)
    results["os.execvp git push --force"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    results["other left"] = sorted(os.listdir(other))
    # A harmless storm: no prompt, every one runs.
    ok = 0
    for _ in range(200):
        ok += subprocess.run(["/bin/true"]).returncode == 0
    results["storm ok"] = ok
    run("benign direct exec", ["ls", HOME])


def limits():
    # What the exec gate cannot see: a program deleting files with its own system calls, and
    # a copy of a destructive program under a name no rule knows.
    import shutil
    other = os.path.join(HOME, "other")
    for d in "xy":
        os.makedirs(os.path.join(other, d))
    attempt("shutil.rmtree", lambda: shutil.rmtree(os.path.join(other, "x")))
    tidy = os.path.join(WORK, "tidy")
    shutil.copy("/bin/rm", tidy)
    run("a copy of rm named tidy", [tidy, "-r", os.path.join(other, "y")])
    results["other left"] = sorted(os.listdir(other))


def ask_exec():
    # One destructive program started directly, for the human at the supervisor's prompt:
    # from Python, or from Node (`ask-exec node`).
    if len(sys.argv) > 2 and sys.argv[2] == "node":
        js = os.path.join(WORK, "rm.js")
        with open(js, "w") as f:
            f.write(
                "try { require('child_process').execFileSync('rm', ['-r', process.argv[2]]);"
                " console.log('AGENT-RC=0') } catch (e) { console.log('AGENT-EXC=' + e.code) }\n"
            )
        subprocess.run(["node", js, VICTIM])
        return
    try:
        r = subprocess.run(["rm", "-r", VICTIM], capture_output=True, text=True)
        print("AGENT-RC=%d" % r.returncode, flush=True)
    except PermissionError as e:
        print("AGENT-EXC=%s" % e, flush=True)


def tamper():
    cfg_dir = os.path.dirname(CONFIG)
    attempt("python writes config", lambda: open(CONFIG, "w").write('mode = "observe"\n'))
    run("dd of=config", ["dd", "of=" + CONFIG], input='mode = "observe"\n')
    link = os.path.join(WORK, "cfglink")
    os.symlink(cfg_dir, link)
    attempt("write through a symlinked parent", lambda: open(os.path.join(link, "config.toml"), "a").write("x\n"))
    attempt("new file in config dir", lambda: open(os.path.join(cfg_dir, "other.toml"), "w").write("x"))
    audit = os.path.join(STATE, "audit.jsonl")
    attempt("truncate the audit log", lambda: open(audit, "w").close())
    # The spellings that got past the lexical self-protection: the kernel stops them now.
    run("glob-spelled truncation", ["/bin/bash", "-c", ": > $HOME/.local/state/shellguar[d]/audit.jsonl"])
    run("printf | dd of=config", ["/bin/sh", "-c", "printf 'mode = \"observe\"\\n' | dd of=$HOME/.config/shellguar[d]/config.toml"])
    run("mkfifo at the audit log", ["/bin/sh", "-c", "rm -f $HOME/.local/state/shellguar?/audit.jsonl; mkfifo $HOME/.local/state/shellguar?/audit.jsonl"])
    attempt("remove the audit log", lambda: os.remove(audit))
    attempt("fifo at the audit log", lambda: os.mkfifo(audit + ".fifo"))
    attempt("forge an approval", lambda: open(os.path.join(STATE, "approvals"), "a").write('{"kind":"allow"}\n'))
    attempt("forge a trust pin", lambda: open(os.path.join(STATE, "trusted"), "a").write("0" * 64 + " /x\n"))
    attempt("chmod the config dir", lambda: os.chmod(cfg_dir, 0o777))
    attempt("rename ~/.config", lambda: os.rename(os.path.join(HOME, ".config"), os.path.join(HOME, ".config.old")))
    attempt("rename ~/.local/state", lambda: os.rename(os.path.join(HOME, ".local/state"), os.path.join(HOME, ".local/st")))
    attempt("rename the state dir", lambda: os.rename(STATE, STATE + ".old"))
    run_dir = os.environ["SG_RUNTIME"]
    attempt("socket in the runtime dir", lambda: socket.socket(socket.AF_UNIX).bind(os.path.join(run_dir, "watch.sock.new")))
    attempt("overwrite the shellguard binary", lambda: open(os.environ["SG_BIN_PATH"], "ab").write(b"x"))
    attempt("overwrite /bin/bash", lambda: open("/bin/bash", "ab").write(b"x"))
    run("copy the guard", ["cp", os.environ["SG_BIN_PATH"], os.path.join(WORK, "sg-copy")])
    # The project's own file may be edited, but what it loosens needs the human's trust.
    os.makedirs(os.path.join(WORK, ".git"), exist_ok=True)
    with open(os.path.join(WORK, ".shellguard.toml"), "w") as f:
        f.write('mode = "observe"\n[[allow]]\nrule = "fs.rm-recursive"\n')
    run("a project file that loosens", ["/bin/bash", "-c", RM], cwd=WORK)


def authority():
    # A refused request, with the id a human could approve outside.
    run("refused first", ["/bin/bash", "-c", RM])
    err = results["refused first"]["err"]
    rid = err.split("Request id ")[1].split(":")[0] if "Request id " in err else "00000000"
    results["id"] = rid
    cmd = "env -i HOME=$HOME PATH=/usr/bin:/bin TERM=xterm " + SG + " approve " + rid
    run("script approve", ["script", "-qc", cmd, "/dev/null"], input="y\n")
    run("script trust", ["script", "-qc", SG + " trust", "/dev/null"], input="y\n")
    run("deny --all", [SG, "deny", "--all"])
    run("script watch", ["script", "-qfc", SG + " watch", "/dev/null"], input="y\n")
    py = pty_spawner()
    run("pty.spawn approve", [sys.executable, py, SG, "approve", rid], input="y\n")
    run("pty.spawn trust", [sys.executable, py, SG, "trust"], input="y\n")
    run("pty.spawn watch", [sys.executable, py, SG, "watch"], input="y\n")
    run("retry after the fake approvals", ["/bin/bash", "-c", RM])
    # A supervisor of our own making, which approves everything it is asked.
    path = os.path.join(WORK, "fake.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(8)
    asked = []

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            asked.append(1)
            line = conn.makefile().readline()
            try:
                req = json.loads(line)
                ans = {"id": req["id"], "nonce": req["nonce"], "verdict": "approve"}
                conn.sendall((json.dumps(ans) + "\n").encode())
            except Exception:
                pass
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    env = dict(os.environ, SHELLGUARD_SUPERVISOR=path)
    run("fake supervisor", ["/bin/bash", "-c", RM], env=env)
    results["fake supervisor asked"] = len(asked)
    run("nested run", [SG, "run", "--", "/bin/bash", "-c", RM])
    run("nested run --unenforced", [SG, "run", "--unenforced", "--", "/bin/bash", "-c", RM])


def fake_watch():
    run("script watch", ["script", "-qfc", SG + " watch", "/dev/null"], input="y\n")
    run("pty.spawn watch", [sys.executable, pty_spawner(), SG, "watch"], input="y\n")


def escape():
    run("su", ["su", "-c", "true"])
    if os.path.exists("/usr/bin/sudo"):
        run("sudo", ["sudo", "true"])
    if os.path.exists("/usr/lib/openssh/ssh-keysign"):
        run("a set-user-ID helper", ["/usr/lib/openssh/ssh-keysign"])
    run("unshare -Ur", ["unshare", "-Urm", "true"])
    run("umount the config view", ["umount", os.path.dirname(CONFIG)])
    run("mount over the config", ["mount", "-t", "tmpfs", "none", os.path.dirname(CONFIG)])
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.ptrace(16, 1, 0, 0)  # PTRACE_ATTACH to our init
    results["ptrace"] = {"rc": r, "errno": ctypes.get_errno()}
    pid_file = os.environ.get("SG_SUP_PID_FILE")
    if pid_file:
        for _ in range(200):
            if os.path.exists(pid_file) and open(pid_file).read().strip():
                break
            time.sleep(0.05)
        sup = int(open(pid_file).read())
        attempt("kill the supervisor", lambda: os.kill(sup, 15))
    results["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    run("mem of pid 1", ["dd", "if=/proc/1/mem", "of=/dev/null", "count=1"])


def ask():
    # One destructive command, for the human at the supervisor's prompt; with "path", by the
    # shell PATH finds (the advisory `run --unenforced` guards only that one).
    shell = "bash" if "path" in sys.argv[2:] else "/bin/bash"
    r = subprocess.run([shell, "-lc", RM], capture_output=True, text=True)
    print("AGENT-RC=%d" % r.returncode, flush=True)
    print("AGENT-ERR=" + r.stderr.replace("\n", " "), flush=True)
    if len(sys.argv) > 2 and sys.argv[2] == "twice":
        os.makedirs(VICTIM, exist_ok=True)
        r = subprocess.run(["/bin/bash", "-lc", RM], capture_output=True, text=True)
        print("AGENT-RC2=%d" % r.returncode, flush=True)


{
    "shells": shells,
    "tamper": tamper,
    "authority": authority,
    "fake-watch": fake_watch,
    "escape": escape,
    "ask": ask,
    "execs": execs,
    "ask-exec": ask_exec,
    "limits": limits,
}[sys.argv[1]]()
print("RESULT " + json.dumps(results), flush=True)

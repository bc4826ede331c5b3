"""Debian 12 under systemd-nspawn: the debootstrap cache, the boot, nsenter, and the lock.

One container at a time on a machine: nspawn uses the same cgroup names on every run, so the
end-to-end test, the fault matrix, the benchmark and the clean package build all boot theirs
under one lock, exclusive(), the lock file of the cache. It also serialises building the
cached root file systems.

Command line, for tests/package/clean-build:
  python3 -m lhctest.container buildd-root        print the cached buildd chroot (built if
                                                  missing: debootstrap --variant=buildd)
  python3 -m lhctest.container locked -- CMD ...  run CMD holding the container lock
The cache is $LHC_E2E_CACHE, or /var/cache/ldap-health-check-e2e.
"""

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

SUITE = "bookworm"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
MACHINE = "lhc-e2e"


def log(msg):
    print(msg, flush=True)


class Failed(Exception):
    pass


def default_cache():
    return os.environ.get("LHC_E2E_CACHE", "/var/cache/ldap-health-check-e2e")


# ---------------------------------------------------------------- the lock

@contextlib.contextmanager
def exclusive(cache=None, container=False):
    """The cache's lock (held while a root fs is built); container=True: held to run a
    container, and once it is held, wait while a systemd-nspawn started elsewhere (by
    something that skips the lock) still runs."""
    cache = cache or default_cache()
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, "lock"), "w") as lock:
        if container:
            log_wait = True
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if log_wait:
                        log("another container holds %s/lock, waiting" % cache)
                        log_wait = False
                    time.sleep(2)
            if other_container():
                log("another systemd-nspawn is running, waiting")
                while other_container():
                    time.sleep(5)
        else:
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def other_container():
    """A systemd-nspawn process on this machine."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if os.path.basename(argv[0]) == b"systemd-nspawn":
                return True
    return False


# ---------------------------------------------------------------- root file systems

def mirror():
    """The first Debian URI of the host's apt sources."""
    for path in ("/etc/apt/sources.list.d/debian.sources",):
        with contextlib.suppress(OSError), open(path) as f:
            for line in f:
                if line.startswith("URIs:"):
                    return line.split()[1]
    return "http://deb.debian.org/debian"


def cached_root(cache, name, key_text, build):
    """CACHE/NAME-KEY, KEY a hash of key_text; build(DIR) makes it where it is missing."""
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    root = os.path.join(cache, f"{name}-{key}")
    with exclusive(cache):
        if os.path.exists(os.path.join(root, ".complete")):
            return root
        tmp = root + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"building {root} from {mirror()} (about 2 minutes)")
        build(tmp)
        open(os.path.join(tmp, ".complete"), "w").close()
        shutil.rmtree(root, ignore_errors=True)
        os.rename(tmp, root)
        return root


def minbase_root(cache, include, packages, preseed, finish=""):
    """debootstrap --variant=minbase with `include`, then `packages` installed with apt
    after debconf answers `preseed`; nothing started while installing. `finish`, a shell
    command run in the root last, is part of the cache key with the rest."""
    uri = mirror()

    def build(tmp):
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={include}",
                        SUITE, tmp, uri], check=True, stdout=subprocess.DEVNULL)
        policy = os.path.join(tmp, "usr/sbin/policy-rc.d")
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
        with open(os.path.join(tmp, "tmp/preseed"), "w") as f:
            f.write(preseed)
        env = {"PATH": PATH, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}
        script = ("debconf-set-selections /tmp/preseed && apt-get update -q && "
                  "apt-get install -y -q --no-install-recommends " + " ".join(packages) +
                  " && apt-get clean && rm -f /tmp/preseed /usr/sbin/policy-rc.d" +
                  (" && " + finish if finish else ""))
        subprocess.run(["chroot", tmp, "sh", "-c", script], env=env, check=True,
                       stdout=subprocess.DEVNULL)

    return cached_root(cache, "rootfs",
                       "\n".join([SUITE, uri, include, preseed] + packages + [finish] * bool(finish)),
                       build)


def buildd_root(cache):
    """A buildd's chroot: debootstrap's buildd variant (essential + build-essential, nothing
    else) and a user `builder`."""
    uri = mirror()

    def build(tmp):
        out = subprocess.run(["debootstrap", "--variant=buildd", SUITE, tmp, uri],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if out.returncode:
            sys.stderr.write("\n".join(out.stdout.splitlines()[-20:]) + "\n")
            raise Failed("debootstrap --variant=buildd failed")
        subprocess.run(["chroot", tmp, "useradd", "--create-home", "builder"], check=True)
        # As on a buildd: loopback names resolve locally, never through DNS (libldap looks
        # the peer up, and this machine's DNS may not answer).
        with open(os.path.join(tmp, "etc/hosts"), "w") as f:
            f.write("127.0.0.1\tlocalhost\n127.0.1.1\tbuildd\n"
                    "::1\tlocalhost ip6-localhost ip6-loopback\n")

    return cached_root(cache, "buildd", "\n".join([SUITE, uri, "buildd", "hosts"]) + "\n", build)


# ---------------------------------------------------------------- the .deb

def build_deb(source, out):
    """dpkg-buildpackage (nocheck) on a copy of the files git would ship, so the tree stays
    clean; returns the path of the .deb."""
    src = os.path.join(out, "src")
    files = subprocess.run(["git", "-C", source, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        if not os.path.isfile(os.path.join(source, rel)):
            continue
        dst = os.path.join(src, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.join(source, rel), dst)
    log("building the .deb (dpkg-buildpackage -us -uc -b)")
    with open(os.path.join(out, "build.log"), "w") as logf:
        r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src,
                           stdout=logf, stderr=subprocess.STDOUT,
                           env=dict(os.environ, DEB_BUILD_OPTIONS="nocheck"))
    if r.returncode:
        with open(os.path.join(out, "build.log")) as f:
            sys.stdout.write(f.read()[-4000:])
        raise Failed("dpkg-buildpackage failed")
    debs = [f for f in os.listdir(out) if f.endswith(".deb") and "dbgsym" not in f]
    return os.path.join(out, debs[0])


# ---------------------------------------------------------------- the container

def nspawn_cgroups():
    """Cgroup directories that systemd-nspawn makes for a container."""
    found = set()
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        for d in dirs:
            if d in ("payload", "supervisor") or "/payload/" in top + "/":
                found.add(os.path.join(top, d))
    return found


@contextlib.contextmanager
def booted(root, logdir, binds=(), cache=None):
    """A Container of `root` booted under the container lock, its journal's tail printed
    if the body fails, shut down and cleaned up whatever happens."""
    with exclusive(cache, container=True):
        c = Container(root, logdir, binds)
        try:
            c.boot()
            yield c
        except Exception:
            if c.leader:
                log(c.sh("journalctl --no-pager -n 100", check=False).stdout)
            raise
        finally:
            c.shutdown()


class Container:
    """A booted systemd (--volatile=overlay: `root` stays pristine, --private-network: a
    loopback of its own), driven from the host through nsenter."""

    def __init__(self, root, logdir, binds=()):
        """binds: "HOST:CONTAINER" folders bound read-only; console.log goes to logdir."""
        self.root, self.logdir, self.binds = root, logdir, list(binds)
        self.proc = self.leader = self.pidns = self.console = None
        self.cgroups_before = set()

    def boot(self):
        self.cgroups_before = nspawn_cgroups()
        self.console = open(os.path.join(self.logdir, "console.log"), "w")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-D", self.root, "--boot", "--register=no", "--keep-unit",
             "--volatile=overlay", "--private-network", "--console=pipe",
             *[f"--bind-ro={b}" for b in self.binds], f"--machine={MACHINE}"],
            stdin=subprocess.DEVNULL, stdout=self.console, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while self.leader is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise Failed("systemd-nspawn did not start a container")
            self.leader = self._find_leader()
            time.sleep(0.1)
        self.pidns = os.readlink(f"/proc/{self.leader}/ns/pid")
        t = time.monotonic()
        state = ""
        while state not in ("running", "degraded"):
            if time.monotonic() - t > 120:
                raise Failed(f"container did not boot: {state!r}")
            time.sleep(0.2)
            state = self.sh("systemctl is-system-running --wait", check=False,
                            timeout=120).stdout.strip()
        log(f"container booted: {state} in {time.monotonic() - t:.1f} s")

    def _find_leader(self):
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError):
                status = open(f"/proc/{pid}/status").read()
                nspid = [line.split()[1:] for line in status.splitlines()
                         if line.startswith("NSpid:")][0]
                if len(nspid) == 2 and nspid[1] == "1" and self._descends(int(pid)):
                    return int(pid)
        return None

    def _descends(self, pid):
        while pid > 1:
            if pid == self.proc.pid:
                return True
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        return False

    def host_pid(self, ns_pid):
        """The host's PID of the process the container knows as ns_pid."""
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError, IndexError):
                with open(f"/proc/{pid}/status") as f:
                    nspid = [line.split()[1:] for line in f if line.startswith("NSpid:")][0]
                if nspid[-1] == str(ns_pid) and self.in_namespace(pid):
                    return int(pid)
        raise Failed(f"no host PID for container PID {ns_pid}")

    def in_namespace(self, pid):
        """Whether host PID pid lives in the container's PID namespace."""
        try:
            return os.readlink(f"/proc/{pid}/ns/pid") == self.pidns
        except OSError:
            return False

    def sh(self, script, check=True, timeout=60, stdin=None):
        """Run a shell script inside the container (all namespaces)."""
        cmd = ["nsenter", "-t", str(self.leader), "-a", "--", "/bin/sh", "-c", script]
        env = {"PATH": PATH, "LC_ALL": "C.UTF-8", "SYSTEMD_PAGER": "cat", "SYSTEMD_COLORS": "0"}
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                           timeout=timeout)
        if check and r.returncode:
            raise Failed(f"in container: {script!r} exited {r.returncode}: {r.stdout}{r.stderr}")
        return r

    def write(self, path, text, mode="0644", owner="root:root"):
        self.sh(f"cat > {path} && chmod {mode} {path} && chown {owner} {path}", stdin=text)

    def ip(self, *args, netns=None):
        """The host's `ip` in the container's network namespace, or in the named network
        namespace `netns` (a path inside the container, such as /run/netns/NAME)."""
        ns = [f"--net=/proc/{self.leader}/root{netns}"] if netns else ["-t", str(self.leader), "-n"]
        subprocess.run(["nsenter", *ns, "--", "ip", *args], check=True, capture_output=True)

    def shutdown(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._kill_leftovers()
        self.console.close()
        # nspawn --keep-unit makes payload/ and supervisor/ next to our own cgroup.
        for path in sorted(nspawn_cgroups() - self.cgroups_before, key=len, reverse=True):
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(path)
        left = nspawn_cgroups() - self.cgroups_before
        if left:
            raise Failed(f"cgroups left behind: {sorted(left)}")

    def _kill_leftovers(self):
        """Whatever still lives in the container's PID namespace is ours to end."""
        if not self.pidns:
            return
        for _ in range(50):
            left = [int(p) for p in filter(str.isdigit, os.listdir("/proc"))
                    if self.in_namespace(p)]
            if not left:
                return
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        raise Failed(f"processes left in the container's namespace: {left}")


# ---------------------------------------------------------------- command line

def main(argv):
    if argv[1:2] == ["buildd-root"] and len(argv) == 2:
        with contextlib.redirect_stdout(sys.stderr):  # stdout: the path alone
            root = buildd_root(default_cache())
        print(root)
        return 0
    if argv[1:3] == ["locked", "--"] and len(argv) > 3:
        with exclusive(container=True):
            return subprocess.run(argv[3:]).returncode
    sys.stderr.write(__doc__)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Debian 12 and 13 under systemd-nspawn: the debootstrap cache, the .deb built in a clean
chroot of the release, the boot, nsenter, and the lock.

The release is $LHC_RELEASE (bookworm, the default, or trixie): the root file systems, the
.deb and the container are all of that release.

One container at a time on a machine: nspawn uses the same cgroup names on every run, so the
end-to-end test, the fault matrix, the benchmark and the clean package build all boot theirs
under one lock, exclusive(), the lock file of the cache. It also serialises building the
cached root file systems.

Command line, for tests/package/:
  python3 -m lhctest.container buildd-root        print the cached buildd chroot (built if
                                                  missing: debootstrap --variant=buildd)
  python3 -m lhctest.container deb SOURCE         print the .deb built from SOURCE (nocheck)
                                                  in that chroot (cached for the same files)
  python3 -m lhctest.container piuparts-base      print the cached base.tgz for piuparts
                                                  (debootstrap --variant=minbase)
  python3 -m lhctest.container previous-build DEB DIR
                                                  the .deb repacked as version V~prev1 in DIR
  python3 -m lhctest.container copy-source SOURCE DIR
                                                  the files git would ship of SOURCE, into DIR
  python3 -m lhctest.container mirror             print the Debian mirror used
  python3 -m lhctest.container locked -- CMD ...  run CMD holding the container lock
The cache is $LHC_E2E_CACHE, or /var/cache/ldap-health-check-e2e.
"""

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
MACHINE = "lhc-e2e"


class Release:
    """What differs between the Debian releases the package is built and tested on."""

    def __init__(self, name, runtime, mta_unit, unified_cgroup):
        self.name = name
        # The package's run-time libraries, installed in the root fs (the container has no
        # network when the .deb goes in).
        self.runtime = runtime
        # The unit that runs the default Postfix instance: postfix@-.service under bookworm's
        # packaging (postfix.service a wrapper around it), postfix.service itself in trixie.
        self.mta_unit = mta_unit
        # systemd 256 and later want the unified cgroup hierarchy; this host's nspawn (252)
        # gives a container the hybrid one unless told otherwise.
        self.unified_cgroup = unified_cgroup


RELEASES = {
    "bookworm": Release("bookworm",
                        ["libboost-program-options1.74.0", "libldap-2.5-0", "libsystemd0"],
                        "postfix@-.service", unified_cgroup=False),
    "trixie": Release("trixie",
                      ["libboost-program-options1.83.0", "libldap2", "libsystemd0"],
                      "postfix.service", unified_cgroup=True),
}


def release():
    name = os.environ.get("LHC_RELEASE", "bookworm")
    if name not in RELEASES:
        raise Failed(f"LHC_RELEASE={name}: not one of {', '.join(RELEASES)}")
    return RELEASES[name]


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
                        release().name, tmp, uri], check=True, stdout=subprocess.DEVNULL)
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
                       "\n".join([release().name, uri, include, preseed] + packages + [finish] * bool(finish)),
                       build)


def buildd_root(cache):
    """A buildd's chroot: debootstrap's buildd variant (essential + build-essential, nothing
    else) and a user `builder`."""
    uri = mirror()

    def build(tmp):
        out = subprocess.run(["debootstrap", "--variant=buildd", release().name, tmp, uri],
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

    name = release().name
    # bookworm's key as it always was: a cache made before the releases were named stays good.
    key = "\n".join([name, uri, "buildd", "hosts"]) + "\n"
    return cached_root(cache, "buildd" if name == "bookworm" else f"buildd-{name}", key, build)


# ---------------------------------------------------------------- the .deb

def source_files(source):
    """{path: bytes} of the files git would ship (tracked, and new ones not ignored)."""
    files = subprocess.run(["git", "-C", source, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, check=True).stdout
    found = {}
    for rel in sorted(filter(None, files.decode().split("\0"))):
        path = os.path.join(source, rel)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as f:
                found[rel] = (f.read(), os.stat(path).st_mode & 0o777)
    return found


def copy_source(files, dst):
    for rel, (data, mode) in files.items():
        path = os.path.join(dst, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)


def nspawn_build(base, workdir, script, logpath):
    """`script` as root in a throwaway overlay of the buildd chroot `base`, workdir bound at
    /build (the source at /build/src), under the container lock; False when it failed."""
    subprocess.run(["chown", "-R", "1000:1000", workdir], check=False)
    with open(logpath, "w") as logf, exclusive(container=True):
        r = subprocess.run(
            ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--hostname=buildd",
             "--volatile=overlay", "-D", base, f"--bind={workdir}:/build", "--chdir=/build/src",
             "--setenv=DEBIAN_FRONTEND=noninteractive", "--setenv=LC_ALL=C.UTF-8",
             "/bin/bash", "-euo", "pipefail", "-c", script],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
    return r.returncode == 0


NOCHECK_BUILD = """apt-get update -q >/dev/null
apt-get build-dep -y -q --no-install-recommends -P nocheck ./ >/dev/null
chown -R builder: /build
su builder -c 'DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b -Pnocheck'
ls ../*.deb"""


def build_deb(source, out=None, cache=None):
    """The .deb of the release, built as a buildd would (nocheck, in a throwaway overlay of
    the release's buildd chroot holding only build-essential and the nocheck Build-Depends)
    from the files git would ship of `source`. Cached under the cache by the files' contents,
    so the suites of one run build it once; returns the path of the .deb. The build's log is
    build.log beside it."""
    cache = cache or default_cache()
    base = buildd_root(cache)
    files = source_files(source)
    digest = hashlib.sha256(base.encode())
    for rel, (data, mode) in files.items():
        digest.update(f"{rel}\0{mode}\0{len(data)}\0".encode())
        digest.update(data)
    name = f"deb-{release().name}-"
    done = os.path.join(cache, name + digest.hexdigest()[:16])
    with exclusive(cache):
        debs = [f for f in os.listdir(done) if f.endswith(".deb") and "dbgsym" not in f] \
            if os.path.exists(os.path.join(done, ".complete")) else []
        if debs:
            log(f"the {release().name} .deb of these files, built before: {done}")
            return os.path.join(done, debs[0])
        for old in os.listdir(cache):  # one per release: the latest files only
            if old.startswith(name):
                shutil.rmtree(os.path.join(cache, old), ignore_errors=True)
        tmp = done + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        copy_source(files, os.path.join(tmp, "src"))
    log(f"building the .deb in a clean {release().name} chroot (nocheck)")
    ok = nspawn_build(base, tmp, NOCHECK_BUILD, os.path.join(tmp, "build.log"))
    if not ok:
        with open(os.path.join(tmp, "build.log")) as f:
            sys.stdout.write(f.read()[-4000:])
        raise Failed(f"dpkg-buildpackage failed in the {release().name} chroot")
    with exclusive(cache):
        shutil.rmtree(os.path.join(tmp, "src"), ignore_errors=True)
        open(os.path.join(tmp, ".complete"), "w").close()
        shutil.rmtree(done, ignore_errors=True)
        os.rename(tmp, done)
    debs = [f for f in os.listdir(done) if f.endswith(".deb") and "dbgsym" not in f]
    if out:
        shutil.copy(os.path.join(done, "build.log"), out)
    return os.path.join(done, debs[0])


def previous_build(deb, outdir):
    """The .deb once more as version V~prev1, which sorts before V: the build an upgrade to
    `deb` starts from (same files, so what the upgrade exercises is the maintainer scripts
    and the units, not a change of code). Returns its path in outdir."""
    tmp = os.path.join(outdir, "prev.tree")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-R", deb, tmp], check=True)
    control = os.path.join(tmp, "DEBIAN", "control")
    with open(control) as f:
        text = f.read()
    version = re.search(r"^Version: (\S+)$", text, re.M).group(1)
    with open(control, "w") as f:
        f.write(re.sub(r"^Version: .*$", f"Version: {version}~prev1", text, flags=re.M))
    out = os.path.join(outdir, os.path.basename(deb).replace(f"_{version}_", f"_{version}~prev1_"))
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", tmp, out], check=True,
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(tmp)
    return out


def piuparts_base(cache):
    """CACHE/piuparts-RELEASE-KEY/base.tgz: debootstrap's minbase of the release, packed as
    piuparts' --basetgz wants it."""
    uri = mirror()

    def build(tmp):
        chroot = os.path.join(tmp, "root")
        subprocess.run(["debootstrap", "--variant=minbase", release().name, chroot, uri],
                       check=True, stdout=subprocess.DEVNULL)
        # trixie's debconf makes this directory on the first package it configures and keeps
        # it; bookworm's piuparts (1.1.7) does not know it and would call it left behind by
        # whatever package is tested. Made here, it is part of the base for every package.
        os.makedirs(os.path.join(chroot, "var/cache/debconf/tmp.ci"), mode=0o700, exist_ok=True)
        subprocess.run(["tar", "-C", chroot, "-czf", os.path.join(tmp, "base.tgz"), "."],
                       check=True)
        shutil.rmtree(chroot)

    root = cached_root(cache, f"piuparts-{release().name}",
                       "\n".join([release().name, uri, "minbase", "base.tgz", "tmp.ci"]), build)
    return os.path.join(root, "base.tgz")


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
            start_new_session=True,
            env=dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
            if release().unified_cgroup else None)
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
    if argv[1:2] == ["deb"] and len(argv) == 3:
        with contextlib.redirect_stdout(sys.stderr):
            deb = build_deb(os.path.abspath(argv[2]))
        print(deb)
        return 0
    if argv[1:2] == ["piuparts-base"] and len(argv) == 2:
        with contextlib.redirect_stdout(sys.stderr):
            base = piuparts_base(default_cache())
        print(base)
        return 0
    if argv[1:2] == ["previous-build"] and len(argv) == 4:
        print(previous_build(os.path.abspath(argv[2]), os.path.abspath(argv[3])))
        return 0
    if argv[1:2] == ["copy-source"] and len(argv) == 4:
        copy_source(source_files(os.path.abspath(argv[2])), os.path.abspath(argv[3]))
        return 0
    if argv[1:2] == ["mirror"] and len(argv) == 2:
        print(mirror())
        return 0
    if argv[1:3] == ["locked", "--"] and len(argv) > 3:
        with exclusive(container=True):
            return subprocess.run(argv[3:]).returncode
    sys.stderr.write(__doc__)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))

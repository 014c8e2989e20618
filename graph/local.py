"""Start, stop and inspect the local Neo4j Community DBMS (embedded JVM, Bolt on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import neo4j

from graph.config import GraphSettings

HOST = "127.0.0.1"
MAIN_CLASS = "org.contactpoint.server.EmbeddedNeo4j"
ADMIN_CLASS = "org.neo4j.cli.AdminTool"
SERVER_DIR = Path(__file__).resolve().parent / "server"
POM = SERVER_DIR / "pom.xml"
SOURCE = SERVER_DIR / "src/main/java/org/contactpoint/server/EmbeddedNeo4j.java"
JAVA_HINT = "install it with 'apt-get install openjdk-17-jre-headless'"
MAVEN_HINT = "install it with 'apt-get install maven'"
# Options from Neo4j's own server.jvm.additional defaults that matter on Java 17.
JVM_OPTIONS = (
    "-XX:+UseG1GC", "-XX:-OmitStackTraceInFastThrow", "-XX:+ExitOnOutOfMemoryError",
    "-Djdk.nio.maxCachedBufferSize=1024", "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true", "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
)
VERSION_QUERY = "CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' RETURN versions[0]"

Progress = Callable[[str], None]
_log = logging.getLogger(__name__)

# JVMs started by this process, kept so they are reaped (no zombies) when stopped here.
_children: dict[int, subprocess.Popen[bytes]] = {}


class LocalNeo4jError(Exception):
    """The local DBMS cannot be installed, started or reached; the message is one line."""


@dataclass(frozen=True)
class LocalStatus:
    """What the local DBMS is doing right now."""

    running: bool
    pid: int | None
    bolt_uri: str
    home: Path
    version: str
    log_path: Path

    def __str__(self) -> str:
        state = f"running (pid {self.pid}) at {self.bolt_uri}" if self.running else "stopped"
        return f"Neo4j {self.version} {state}; home {self.home}; log {self.log_path}"


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


@functools.lru_cache(maxsize=4)
def _java_version(java: str) -> str:
    """What `java -version` reports, such as "17.0.15" ("8.0_402" for 1.8); "" if it does not run."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    match = re.search(r'version "(?:1\.)?([^"]+)"', out.stderr + out.stdout)
    return match.group(1) if match else ""


def check_prerequisites(*, need_maven: bool = True) -> None:
    """Raise LocalNeo4jError naming what to install when Java 17+ or Maven is missing."""
    java = shutil.which("java")
    major = re.match(r"\d*", _java_version(java) if java else "").group()
    if not major or int(major) < 17:
        found = f" (found Java {major})" if major else ""
        raise LocalNeo4jError(f"Java 17 or newer is required to run the local Neo4j{found}: {JAVA_HINT}")
    if need_maven and shutil.which("mvn") is None:
        raise LocalNeo4jError(f"Maven is required to fetch the local Neo4j from Maven Central: {MAVEN_HINT}")


def _local_uri(settings: GraphSettings) -> str:
    return f"bolt://{HOST}:{settings.bolt_port}"


def _pid_path(settings: GraphSettings) -> Path:
    return settings.home / "run" / "neo4j.pid"


def _log_path(settings: GraphSettings) -> Path:
    return settings.home / "logs" / "neo4j.log"


def _dist_dir(settings: GraphSettings) -> Path:
    """Where this version and launcher source are built: a new source never overwrites jars in use."""
    digest = hashlib.sha256(POM.read_bytes() + SOURCE.read_bytes()).hexdigest()[:12]
    return settings.dist_root / f"{settings.version}-{digest}"


def _gist(text: str) -> str:
    """The line of a log or Maven output that best says what went wrong."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for pattern in (r"^ERROR ", r"^Caused by: ", r"\[ERROR\]|Exception|Error:"):
        hits = [line for line in lines if re.search(pattern, line)]
        if hits:
            return (hits[-1] if pattern == r"^Caused by: " else hits[0])[:300]
    return lines[-1][:300] if lines else "no output"


def ensure_installed(settings: GraphSettings, progress: Progress | None = None) -> Path:
    """Fetch the Neo4j jars from Maven Central and build the launcher, once per version and source."""
    dist = _dist_dir(settings)
    stamp = dist / "STAMP"  # written last: its presence means the build is complete
    if not stamp.is_file():
        _build(settings, dist, progress)
        stamp.write_text(f"neo4j {settings.version} from Maven Central; launcher {dist.name}\n")
    if _running_pid(settings) is None:  # drop older builds, unless a running JVM still reads one
        for old in dist.parent.iterdir():
            if old == dist:
                continue
            if old.is_symlink():
                old.unlink()
            else:
                shutil.rmtree(old, ignore_errors=True)
    return dist


def _build(settings: GraphSettings, dist: Path, progress: Progress | None) -> None:
    """Run Maven: the launcher jar and every runtime jar into dist, and a class-path file for java."""
    check_prerequisites(need_maven=True)
    _say(progress, f"Fetching Neo4j {settings.version} from Maven Central and building the launcher "
                   "(first time about 170 MB, a minute or two)...")
    shutil.rmtree(dist, ignore_errors=True)
    dist.mkdir(parents=True)
    maven_log = settings.home / "logs" / "maven.log"
    maven_log.parent.mkdir(parents=True, exist_ok=True)
    command = ["mvn", "-B", "-q", "-Dstyle.color=never", "-f", str(POM),
               f"-Dneo4j.version={settings.version}", f"-Dcp.dist.dir={dist}", "package"]
    with maven_log.open("wb") as out:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        gist = _gist(maven_log.read_text(errors="replace"))
        raise LocalNeo4jError(f"Maven could not fetch Neo4j {settings.version}: {gist} (see {maven_log})")
    jars = [dist / "contactpoint-neo4j-server.jar", *sorted((dist / "lib").glob("*.jar"))]
    # An explicit, ordered class path (not lib/*) lets the JVM reuse its class-data archive.
    classpath = os.pathsep.join(str(jar) for jar in jars).replace("\\", "\\\\").replace('"', '\\"')
    (dist / "classpath.args").write_text(f'-cp\n"{classpath}"\n')


def _class_data_archive(dist: Path) -> Path:
    java_version = _java_version(shutil.which("java") or "java") or "unknown"
    return dist / f"classes-java{java_version}.jsa"


def _class_data_options(dist: Path) -> list[str]:
    """Reuse a class-data archive of Neo4j's classes (halves start time), or write it at first exit."""
    archive = _class_data_archive(dist)
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}", "-Xshare:auto"]
    return [f"-XX:ArchiveClassesAtExit={archive}", "-Xlog:cds=off,cds+dynamic=off"]


def admin_command(dist: Path, heap: str, *args: str) -> list[str]:
    """A java command line running neo4j-admin (AdminTool) from the DBMS's own jars and class-data archive."""
    archive = _class_data_archive(dist)
    share = [f"-XX:SharedArchiveFile={archive}", "-Xshare:auto"] if archive.is_file() else []
    return ["java", f"-Xmx{heap}", *JVM_OPTIONS, *share, f"@{dist / 'classpath.args'}", ADMIN_CLASS,
            *args]


def import_marker(settings: GraphSettings) -> Path:
    """Present while a bulk import into this home runs (or if one was interrupted): the DBMS will not start."""
    return settings.home / "run" / "bulk-import"


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie is not running
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _is_ours(pid: int, settings: GraphSettings) -> bool:
    """Whether pid is this home's DBMS JVM, not a process that reused a stale pid."""
    if not Path("/proc").is_dir():
        return True
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return MAIN_CLASS in args and str(settings.home.resolve()) in args


def _running_pid(settings: GraphSettings) -> int | None:
    """The pid from the pid file if that process is still our JVM; clears a stale file."""
    path = _pid_path(settings)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return None
    if _alive(pid) and _is_ours(pid, settings):
        return pid
    path.unlink(missing_ok=True)
    return None


def _ask_version(settings: GraphSettings) -> str:
    """Run a real query over Bolt; raises the driver's error if the DBMS does not answer."""
    auth = (settings.user, settings.password.get_secret_value())
    with (
        neo4j.GraphDatabase.driver(_local_uri(settings), auth=auth, connection_timeout=3) as driver,
        driver.session(database=settings.database) as session,
    ):
        return str(session.run(VERSION_QUERY).single(strict=True)[0])


def status(settings: GraphSettings) -> LocalStatus:
    """Report whether the local DBMS (not NEO4J_URI's) runs, and its version as the server tells it."""
    pid = _running_pid(settings)
    version = settings.version
    if pid is not None:
        with contextlib.suppress(neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
            version = _ask_version(settings)
    uri, log_path = _local_uri(settings), _log_path(settings)
    return LocalStatus(pid is not None, pid, uri, settings.home, version, log_path)


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            raise LocalNeo4jError(
                f"Port {port} on {HOST} is already in use by another process: "
                "stop it or choose another port with CP_NEO4J_BOLT_PORT"
            ) from None


def _log_since(path: Path, offset: int) -> str:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _launch(settings: GraphSettings, dist: Path, jvm_extra: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start the JVM in a session of its own, output appended to the log; returns it and the offset."""
    for sub in ("data", "logs", "run"):
        (settings.home / sub).mkdir(parents=True, exist_ok=True)
    command = [
        "java", f"-Xms{settings.heap}", f"-Xmx{settings.heap}", *JVM_OPTIONS, *jvm_extra,
        f"@{dist / 'classpath.args'}", MAIN_CLASS, "--home", str(settings.home.resolve()),
        "--bolt-port", str(settings.bolt_port), "--pagecache", settings.pagecache,
    ]
    # Credentials travel in the environment, not argv, so `ps` does not show them.
    env = {**os.environ, "CP_NEO4J_USER": settings.user,
           "CP_NEO4J_PASSWORD": settings.password.get_secret_value()}
    with _log_path(settings).open("ab") as log:
        offset = log.tell()
        log.write(f"--- starting Neo4j {settings.version} at {time.strftime('%F %T')} ---\n".encode())
        log.flush()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=settings.home, env=env, start_new_session=True)
    _children[proc.pid] = proc
    _pid_path(settings).write_text(f"{proc.pid}\n")
    return proc, offset


def start(settings: GraphSettings, *, timeout: float = 120, progress: Progress | None = None) -> LocalStatus:
    """Start the local DBMS detached and return once Bolt answers a query; no-op if running."""
    current = status(settings)
    if current.running:
        return current
    if import_marker(settings).exists():
        raise LocalNeo4jError(
            f"a bulk import into {settings.home} is running or was interrupted ({import_marker(settings)}): "
            "wait for it; if none is running, run 'contactpoint bulk-load --overwrite' again, or delete that file "
            "to start on the store as it is"
        )
    check_prerequisites(need_maven=False)
    dist = ensure_installed(settings, progress)
    _check_port_free(settings.bolt_port)
    class_data = _class_data_options(dist)
    _say(progress, f"Starting Neo4j {settings.version} on {_local_uri(settings)}...")
    began = time.monotonic()
    proc, offset = _launch(settings, dist, class_data)
    log_path = _log_path(settings)

    def fail(message: str) -> LocalNeo4jError:
        stop(settings)
        if class_data[0].startswith("-XX:ArchiveClassesAtExit="):  # a failed run's archive: redo it
            Path(class_data[0].split("=", 1)[1]).unlink(missing_ok=True)
        return LocalNeo4jError(f"{message}: {_gist(_log_since(log_path, offset))} (see {log_path})")

    while True:
        if proc.poll() is not None:
            raise fail(f"Neo4j exited during start (code {proc.returncode})")
        if "\nREADY " in _log_since(log_path, offset):
            try:
                version = _ask_version(settings)
                break
            except neo4j.exceptions.AuthError as exc:
                stop(settings)
                raise LocalNeo4jError(f"Neo4j refused the configured credentials: {exc.message}") from None
            except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
                pass
        if time.monotonic() - began > timeout:
            raise fail(f"Neo4j did not answer on Bolt within {timeout:.0f} s")
        time.sleep(0.25)
    _say(progress, f"Neo4j {version} is up at {_local_uri(settings)} ({time.monotonic() - began:.1f} s)")
    return LocalStatus(True, proc.pid, _local_uri(settings), settings.home, version, log_path)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop(settings: GraphSettings, *, timeout: float = 60, progress: Progress | None = None) -> bool:
    """Stop the local DBMS with SIGTERM (SIGKILL after timeout, said so); True if it was running."""
    pid = _running_pid(settings)
    if pid is None:
        return False
    _say(progress, f"Stopping Neo4j (pid {pid})...")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout):
        message = f"Neo4j (pid {pid}) did not stop within {timeout:.0f} s of SIGTERM; killed it with SIGKILL"
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 10)
        with contextlib.suppress(OSError), _log_path(settings).open("a") as log:
            log.write(f"--- {message} ---\n")
        _log.warning("%s (the next start recovers the store)", message)
        _say(progress, message + " (the next start recovers the store)")
    _children.pop(pid, None)
    _pid_path(settings).unlink(missing_ok=True)
    return True

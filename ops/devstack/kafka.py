"""Apache Kafka for the local stack: one KRaft node (broker + controller) from Maven jars."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from ops.devstack import processes
from shared.settings import REPO_ROOT, Settings

POM = REPO_ROOT / "deploy" / "local" / "pom.xml"
LOG4J_CONFIG = REPO_ROOT / "deploy" / "local" / "log4j2.xml"


@dataclass(frozen=True)
class KafkaPaths:
    root: Path

    @property
    def libs(self) -> Path:
        return self.root / "libs"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    @property
    def log(self) -> Path:
        return self.root / "kafka.log"

    @property
    def pid(self) -> Path:
        return self.root / "kafka.pid"


def paths(settings: Settings) -> KafkaPaths:
    return KafkaPaths(settings.dev.state_dir / "kafka")


def kafka_version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if match is None:
        raise processes.StackError(f"no <kafka.version> in {POM}")
    return match.group(1)


def server_properties(settings: Settings, data_dir: Path) -> str:
    """Test-friendly single-node settings: replication 1 everywhere, no rebalance delay."""
    broker, controller = settings.dev.kafka_port, settings.dev.kafka_controller_port
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{controller}",
            f"listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{broker}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={data_dir}",
            f"num.partitions={settings.topics.partitions}",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=6",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=6",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "min.insync.replicas=1",
            "default.replication.factor=1",
            "group.initial.rebalance.delay.ms=0",
            # Topics are the system of record: they are created explicitly, never by accident.
            "auto.create.topics.enable=false",
            "",
        ]
    )


def resolve_jars(kp: KafkaPaths) -> None:
    """Copy the broker's jars out of Maven (and its local cache) once per version."""
    marker = kp.libs / f"kafka_2.13-{kafka_version()}.jar"
    if marker.exists():
        return
    if shutil.which("mvn") is None:
        raise processes.StackError("Maven (mvn) is not installed: apt-get install -y maven")
    shutil.rmtree(kp.libs, ignore_errors=True)
    kp.root.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={kp.libs}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not marker.exists():
        output = (result.stdout + result.stderr)[-3000:]
        raise processes.StackError(f"resolving Kafka jars with Maven failed:\n{output}")


def java_command(kp: KafkaPaths, main_class: str, *args: str) -> list[str]:
    return [
        "java",
        "-Xms256m",
        "-Xmx1g",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        f"-Dkafka.logs.dir={kp.root / 'logs'}",
        "-cp",
        f"{kp.libs}/*",
        main_class,
        *args,
    ]


def format_storage(settings: Settings, kp: KafkaPaths) -> None:
    """Format the KRaft storage once; a formatted data folder is left alone."""
    kp.config.write_text(server_properties(settings, kp.data))
    if (kp.data / "meta.properties").exists():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    result = subprocess.run(
        java_command(
            kp,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "--cluster-id",
            cluster_id,
            "--config",
            str(kp.config),
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise processes.StackError(
            f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}"
        )


async def answers_metadata(bootstrap: str, timeout_ms: int = 3000) -> bool:
    """True once the broker answers a metadata request. aiokafka's connection errors while it
    boots are expected here, so its logger is muted for the probe."""
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    try:
        await admin.start()
        await admin.describe_cluster()
        return True
    except Exception:
        return False
    finally:
        await admin.close()
        aiokafka_log.setLevel(level)


def bootstrap(settings: Settings) -> str:
    return f"127.0.0.1:{settings.dev.kafka_port}"


def is_healthy(settings: Settings) -> bool:
    return asyncio.run(answers_metadata(bootstrap(settings)))


def start(settings: Settings) -> str:
    """Start the broker unless it runs; wait until it answers a metadata request."""
    kp = paths(settings)
    if processes.read_pid(kp.pid) is not None and is_healthy(settings):
        return "already running"
    if shutil.which("java") is None:
        raise processes.StackError(
            "Java 17 is not installed: apt-get install -y openjdk-17-jre-headless"
        )
    resolve_jars(kp)
    format_storage(settings, kp)
    pid = processes.spawn(java_command(kp, "kafka.Kafka", str(kp.config)), kp.log, kp.pid)
    deadline = time.monotonic() + settings.dev.start_timeout_s
    while time.monotonic() < deadline:
        if not processes.is_alive(pid):
            raise processes.failure("Kafka", "exited during start-up", kp.log)
        if is_healthy(settings):
            return "started"
        time.sleep(0.5)
    raise processes.failure(
        "Kafka", f"did not answer within {settings.dev.start_timeout_s:.0f}s", kp.log
    )


def stop(settings: Settings) -> bool:
    return processes.stop(paths(settings).pid, timeout_s=60)

#!/usr/bin/env bash
# Run the real services (Kafka, Redis, PostgreSQL) natively on loopback, for tests and local use.
# No Docker: Kafka comes from Apache's jars on Maven Central (run with the machine's Java 17),
# Redis and PostgreSQL from Debian's packages. See docs/services.md.
#
#   scripts/services.sh up [kafka|redis|postgres ...]     start (idempotent) and wait until each answers; prints `env`
#   scripts/services.sh down [svc ...]                    stop what this script started
#   scripts/services.sh start|stop|restart svc ...        same, for fault tests (start = up without the env lines)
#   scripts/services.sh kill svc ...                      crash a service (SIGKILL / pg immediate stop), for fault tests
#   scripts/services.sh pause|resume kafka|redis ...      hang a service (SIGSTOP) and let it go on (SIGCONT), for fault tests
#   scripts/services.sh status [svc ...]                  print each service's state; exit 1 if any is not running
#   scripts/services.sh env                               print the export lines for the app and tests
#   scripts/services.sh clean [svc ...]                   stop, then delete the service's data under .services/
#
# Progress goes to stderr and the export lines to stdout, so `eval "$(scripts/services.sh up)"` works.
set -euo pipefail

# ---------------------------------------------------------------------------------------------------------------------
# Settings (all overridable from the environment)
# ---------------------------------------------------------------------------------------------------------------------
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${SERVICES_DIR:-$REPO_ROOT/.services}"              # data, logs, pid files (git-ignored)
SERVICES_CACHE="${SERVICES_CACHE:-$HOME/.cache/crypto-pipeline}"  # downloaded jars: survives `clean` and new clones

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"        # 3.9.x also works (see docs/services.md)
LOG4J_VERSION="${LOG4J_VERSION:-2.25.5}"       # the Log4j 2 that Kafka 4.4.0's own POMs name (4.x only)
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms128m -Xmx512m}"  # small: 2 cores, tests run beside it
REDIS_PORT="${REDIS_PORT:-6379}"
PG_PORT="${PG_PORT:-5432}"
PG_USER=pipeline PG_PASSWORD=pipeline PG_DB=prices

KAFKA_WAIT="${KAFKA_WAIT:-90}"                 # seconds to wait for each service to answer
REDIS_WAIT="${REDIS_WAIT:-15}"
PG_WAIT="${PG_WAIT:-30}"

ALL_SERVICES=(kafka redis postgres)
KAFKA_DIR="$SERVICES_DIR/kafka"
REDIS_DIR="$SERVICES_DIR/redis"
PG_LINK="$SERVICES_DIR/postgres"               # a dir, or a symlink when the postgres user cannot reach the repo

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

# Seconds since the epoch with millis, for timings.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# Is something listening on 127.0.0.1:$1? (bash's /dev/tcp: no extra tool needed)
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Is pid $1 alive and its command line matching $2? (guards against stale pid files and reused pids)
pid_matches() {
  [[ -n "$1" ]] && pid_running "$1" && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -q -- "$2"
}

# Alive = exists and is not just a zombie. Daemons are re-parented to PID 1, which may reap them late (~2 s here),
# and a JVM's leader thread turns zombie while its other threads still run the shutdown: count those as alive.
pid_running() {
  [[ -r "/proc/$1/stat" ]] || return 1
  [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]] && return 0
  local threads; threads="$(find "/proc/$1/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
  ((threads > 1))
}

read_pid() { [[ -f "$1" ]] && cat "$1" || true; }

# Print the last lines of a log file after a failure.
log_tail() {
  if [[ -f "$1" ]]; then
    printf '[services] ---- last lines of %s ----\n' "$1" >&2
    tail -n "${2:-30}" "$1" >&2
    printf '[services] ----\n' >&2
  fi
}

# Fail clearly when a port is taken by something that is not ours (e.g. a distro service on 5432).
# A short grace first: a just-killed JVM's leader thread is a zombie while its other threads still hold the sockets.
ensure_port_free() { # name port
  local deadline=$((SECONDS + 5))
  while port_open "$2" && ((SECONDS < deadline)); do sleep 0.2; done
  if port_open "$2"; then
    die "$1: port 127.0.0.1:$2 is already in use by another process (ss -ltnp 'sport = :$2'). Stop it or set ${1^^}_PORT."
  fi
}

# A running instance keeps the port it was started with: say so instead of timing out on the new one.
check_running_port() { # name port_file wanted
  local have; have="$(cat "$2" 2>/dev/null || true)"
  [[ -z "$have" || "$have" == "$3" ]] \
    || die "$1: already running on port $have, not $3; use 'scripts/services.sh restart $1' to move it"
}

# Install Debian packages when a binary is missing (apt-get update first if the lists are empty/old).
apt_install() { # package...
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  log "installing Debian packages: $* (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" >&2; then
    "${sudo[@]}" apt-get update -q >&2
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" >&2
  fi
}

# Wait up to $2 seconds for command "$3..." to succeed; $1 names the service; fail early if check_alive says it died.
wait_until() { # name seconds alive_fn cmd...
  local name="$1" secs="$2" alive="$3"; shift 3
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ! "$alive"; then return 2; fi
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.3
  done
}

# ---------------------------------------------------------------------------------------------------------------------
# Kafka: single-node KRaft (combined broker + controller) from Maven Central jars
# ---------------------------------------------------------------------------------------------------------------------
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_LINE="${KAFKA_VERSION%%.*}"                        # 3 or 4: they differ in logging backend only
KAFKA_HOME="$SERVICES_CACHE/kafka-$KAFKA_VERSION"        # pom.xml + lib/ (all runtime jars)

kafka_pid() { local p; p="$(read_pid "$KAFKA_PIDFILE")"; pid_matches "$p" 'kafka\.Kafka' && echo "$p" || true; }
kafka_alive() { [[ -n "$(kafka_pid)" ]]; }

# The POM only gathers jars: kafka_2.13 brings the whole broker, but no logging backend (Kafka's tarball adds one).
kafka_write_pom() {
  local deps
  if [[ "$KAFKA_LINE" == 3 ]]; then
    # 3.9: SLF4J 1.7 + reload4j, as in the 3.9 tarball; keep ZooKeeper's logback/log4j bindings out.
    deps='
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>'"$KAFKA_VERSION"'</version>
      <exclusions>
        <exclusion><groupId>ch.qos.logback</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-log4j12</artifactId></exclusion>
        <exclusion><groupId>log4j</groupId><artifactId>log4j</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>'
  else
    # 4.x: Log4j 2 with the SLF4J 1.x binding (Kafka 4 still uses slf4j-api 1.7.36, so NOT log4j-slf4j2-impl).
    deps='
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>'"$KAFKA_VERSION"'</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId>
      <version>'"$LOG4J_VERSION"'</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>'"$LOG4J_VERSION"'</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>'"$LOG4J_VERSION"'</version></dependency>'
  fi
  cat >"$KAFKA_HOME/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <!-- generated by scripts/services.sh: only used to download Kafka's runtime jars -->
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.crypto-pipeline</groupId><artifactId>kafka-runtime</artifactId><version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>$deps
  </dependencies>
</project>
EOF
}

# Download the jars once into the cache; later runs need no network (and no Maven at all).
kafka_fetch_jars() {
  [[ -f "$KAFKA_HOME/lib/.complete" ]] && return 0
  command -v java >/dev/null || die "kafka: java not found (need Java 17+: apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || apt_install maven
  local t0; t0="$(now)"
  log "kafka: downloading Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_HOME/lib"
  mkdir -p "$KAFKA_HOME"
  kafka_write_pom
  rm -rf "$KAFKA_HOME/lib.tmp"
  # Own local repository under the cache, so the cache folder alone holds everything.
  if ! mvn -B -q -f "$KAFKA_HOME/pom.xml" -Dmaven.repo.local="$SERVICES_CACHE/m2" \
      org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/lib.tmp" >"$KAFKA_HOME/mvn.log" 2>&1; then
    log_tail "$KAFKA_HOME/mvn.log"
    die "kafka: Maven could not fetch Kafka $KAFKA_VERSION"
  fi
  # Move into place only when complete, so an interrupted download is retried, not half-used.
  rm -rf "${KAFKA_HOME:?}/lib" && mv "$KAFKA_HOME/lib.tmp" "$KAFKA_HOME/lib" && touch "$KAFKA_HOME/lib/.complete"
  log "kafka: $(ls "$KAFKA_HOME/lib" | wc -l) jars in $(elapsed "$t0")"
}

# Config is rewritten at every start (ports may change); the data dir is formatted once and then kept.
kafka_write_config() {
  cat >"$KAFKA_DIR/server.properties" <<EOF
# generated by scripts/services.sh at each start; edit the script, not this file
process.roles=broker,controller
node.id=1
# static quorum (voters listed here) => storage format needs no --standalone; works on 3.9 and 4.x
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
# the app creates its topics explicitly
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=1
# one node: every replication factor and ISR must be 1, or group/transaction coordinators never come up
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
# after a crash (kill -9) the restarted broker must wait for its old registration to expire (default 9 s)
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
# few threads: 2-core machine
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=168
EOF
  if [[ "$KAFKA_LINE" != 3 ]]; then
    printf 'share.coordinator.state.topic.replication.factor=1\nshare.coordinator.state.topic.min.isr=1\n' \
      >>"$KAFKA_DIR/server.properties"
  fi

  # Logging: console appender, stdout goes to kafka.log. Request/state-change loggers are chatty: WARN.
  if [[ "$KAFKA_LINE" == 3 ]]; then
    cat >"$KAFKA_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.state.change.logger=WARN
EOF
    KAFKA_LOG_OPT="-Dlog4j.configuration=file:$KAFKA_DIR/log4j.properties"
  else
    cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.reqchan.name = kafka.network.RequestChannel$
logger.reqchan.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
EOF
    KAFKA_LOG_OPT="-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties"
  fi
}

# Kafka cluster ids are 16 random bytes in unpadded base64url; one starting with '-' would read as an option.
kafka_random_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && { echo "$id"; return; }
  done
}

kafka_format_once() {
  [[ -f "$KAFKA_DIR/data/meta.properties" ]] && return 0
  local id; id="$(kafka_random_cluster_id)"
  log "kafka: formatting storage (cluster id $id)"
  # kafka-storage.sh format == kafka.tools.StorageTool (in kafka_2.13 on both 3.9 and 4.x)
  if ! java -Xmx256m "$KAFKA_LOG_OPT" -cp "$KAFKA_HOME/lib/*" kafka.tools.StorageTool \
      format -t "$id" -c "$KAFKA_DIR/server.properties" >>"$KAFKA_LOG" 2>&1; then
    log_tail "$KAFKA_LOG"
    die "kafka: storage format failed"
  fi
  echo "$KAFKA_VERSION" >"$KAFKA_DIR/data/.formatted-by"
}

# Ready = a real metadata request answers (kafkajs, as the app uses); without node_modules, the broker's log line.
# The client listener opens last, so probe it cheaply first: node processes would steal CPU from the JVM's startup.
kafka_ready() {
  port_open "$KAFKA_PORT" || return 1
  if [[ -f "$REPO_ROOT/node_modules/kafkajs/package.json" ]] && command -v node >/dev/null; then
    KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" KAFKA_SMOKE_TIMEOUT_MS=5000 \
      node "$REPO_ROOT/scripts/services/kafka-smoke.mjs" --ping
  else
    grep -q 'Kafka Server started' "$KAFKA_LOG"
  fi
}

# Class-data-sharing archive of Kafka's classes: cuts the broker's startup CPU by about a third (2 cores).
# The first run records it at a graceful exit (.new), kafka_stop moves it into place. Keyed by the java binary and
# the jar folder, so a JDK upgrade or a moved cache makes a new one instead of a silently ignored stale one.
kafka_cds_flags() {
  local java key
  java="$(readlink -f "$(command -v java)")"
  key="$({ stat -c '%n %Y' "$java"; echo "$KAFKA_HOME"; } | cksum | cut -d' ' -f1)"
  if [[ -f "$KAFKA_HOME/cds-$key.jsa" ]]; then
    echo "-XX:SharedArchiveFile=$KAFKA_HOME/cds-$key.jsa -Xlog:cds=off"
  else
    echo "-XX:ArchiveClassesAtExit=$KAFKA_HOME/cds-$key.jsa.new -Xlog:cds=off"
  fi
}

kafka_start() {
  if kafka_alive; then
    log "kafka: already running (pid $(kafka_pid))"
    check_running_port kafka "$KAFKA_DIR/port" "$KAFKA_PORT"
  else
    kafka_fetch_jars
    mkdir -p "$KAFKA_DIR"
    local by; by="$(cat "$KAFKA_DIR/data/.formatted-by" 2>/dev/null || true)"
    if [[ -n "$by" && "${by%%.*}" != "$KAFKA_LINE" ]]; then
      die "kafka: $KAFKA_DIR/data was made by Kafka $by; run 'scripts/services.sh clean kafka' to switch to $KAFKA_VERSION"
    fi
    ensure_port_free kafka "$KAFKA_PORT"
    ensure_port_free kafka "$KAFKA_CONTROLLER_PORT"
    if [[ -f "$KAFKA_LOG" ]]; then mv -f "$KAFKA_LOG" "$KAFKA_LOG.1"; fi   # keep one previous log
    kafka_write_config
    kafka_format_once
    log "kafka: starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT), log $KAFKA_LOG"
    # setsid + nohup: the broker outlives this shell and a Ctrl-C in the terminal that ran `up`.
    # The wrapper shell writes its own pid, then execs java: the pid file is right whether or not setsid forks.
    # JVM flags as in kafka-run-class.sh, with a small heap and the class archive.
    rm -f "$KAFKA_PIDFILE"
    local -a jvm
    read -r -a jvm <<<"$KAFKA_HEAP $(kafka_cds_flags)"
    # shellcheck disable=SC2016  # $$/$0/$@ are for the inner shell
    setsid nohup bash -c 'echo $$ >"$0" && exec "$@"' "$KAFKA_PIDFILE" java "${jvm[@]}" \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
      "$KAFKA_LOG_OPT" -Dkafka.logs.dir="$KAFKA_DIR" \
      -cp "$KAFKA_HOME/lib/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
      </dev/null >>"$KAFKA_LOG" 2>&1 9>&- &
    echo "$KAFKA_PORT" >"$KAFKA_DIR/port"
    local _; for _ in $(seq 50); do kafka_alive && break; sleep 0.1; done
  fi
  local rc=0
  wait_until kafka "$KAFKA_WAIT" kafka_alive kafka_ready || rc=$?
  case $rc in
    0) return 0 ;;
    2) log_tail "$KAFKA_LOG"; die "kafka: the broker exited during startup" ;;
    *) log_tail "$KAFKA_LOG"; die "kafka: no answer on 127.0.0.1:$KAFKA_PORT within ${KAFKA_WAIT}s" ;;
  esac
}

# Stop by pid: SIGTERM runs Kafka's controlled shutdown (a few seconds); SIGKILL if it hangs.
stop_pid() { # name pid timeout_seconds
  local name="$1" pid="$2" secs="$3" deadline
  kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + secs))
  while pid_running "$pid"; do
    if ((SECONDS >= deadline)); then
      log "$name: still running after ${secs}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.2
  done
}

kafka_stop() {
  local pid; pid="$(kafka_pid)"
  if [[ -z "$pid" ]]; then log "kafka: not running"; rm -f "$KAFKA_PIDFILE"; return 0; fi
  log "kafka: stopping (pid $pid)"
  stop_pid kafka "$pid" 30
  rm -f "$KAFKA_PIDFILE"
  # A graceful exit has written the class archive completely: keep it.
  local f
  for f in "$KAFKA_HOME"/cds-*.jsa.new; do
    if [[ -f "$f" ]]; then mv -f "$f" "${f%.new}"; fi
  done
}

kafka_kill() {
  local pid; pid="$(kafka_pid)"
  [[ -n "$pid" ]] || { log "kafka: not running"; return 0; }
  log "kafka: SIGKILL pid $pid"
  kill -KILL "$pid"
  while pid_running "$pid"; do sleep 0.1; done
  rm -f "$KAFKA_PIDFILE" "$KAFKA_HOME"/cds-*.jsa.new   # a killed JVM leaves no usable archive
}

kafka_status() {
  local pid; pid="$(kafka_pid)"
  if [[ -n "$pid" ]]; then
    local v; v="$(grep -o 'Kafka version: [^ ]*' "$KAFKA_LOG" 2>/dev/null | tail -n1 | cut -d' ' -f3)"
    local port; port="$(cat "$KAFKA_DIR/port" 2>/dev/null || echo "$KAFKA_PORT")"
    echo "kafka     running  pid $pid  127.0.0.1:$port  Kafka ${v:-$KAFKA_VERSION}  log $KAFKA_LOG"
  else
    echo "kafka     stopped"; return 1
  fi
}

# ---------------------------------------------------------------------------------------------------------------------
# Redis: Debian's redis-server, our own instance (not the distro service), no persistence
# ---------------------------------------------------------------------------------------------------------------------
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

redis_pid() { local p; p="$(read_pid "$REDIS_PIDFILE")"; pid_matches "$p" 'redis-server' && echo "$p" || true; }
redis_alive() { [[ -n "$(redis_pid)" ]]; }
redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

redis_start() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server redis-tools
  if redis_alive; then
    log "redis: already running (pid $(redis_pid))"
    check_running_port redis "$REDIS_DIR/port" "$REDIS_PORT"
  else
    mkdir -p "$REDIS_DIR"
    ensure_port_free redis "$REDIS_PORT"
    log "redis: starting $(redis-server --version | grep -o 'v=[^ ]*') on 127.0.0.1:$REDIS_PORT, log $REDIS_LOG"
    # --save '' / --appendonly no: a cache, nothing to keep; --daemonize writes the pid file itself.
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --dir "$REDIS_DIR" \
      --save '' --appendonly no --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" 9>&- \
      || { log_tail "$REDIS_LOG"; die "redis: redis-server failed to start"; }
    echo "$REDIS_PORT" >"$REDIS_DIR/port"
    # The daemon writes its pid file a moment after the fork.
    local _; for _ in $(seq 50); do redis_alive && break; sleep 0.1; done
  fi
  local rc=0
  wait_until redis "$REDIS_WAIT" redis_alive redis_ready || rc=$?
  case $rc in
    0) return 0 ;;
    2) log_tail "$REDIS_LOG"; die "redis: redis-server is not running (exited during startup?)" ;;
    *) log_tail "$REDIS_LOG"; die "redis: no PONG on 127.0.0.1:$REDIS_PORT within ${REDIS_WAIT}s" ;;
  esac
}

redis_stop() {
  local pid; pid="$(redis_pid)"
  if [[ -z "$pid" ]]; then log "redis: not running"; return 0; fi
  log "redis: stopping (pid $pid)"
  stop_pid redis "$pid" 10    # SIGTERM: with persistence off, Redis just exits
}

redis_kill() {
  local pid; pid="$(redis_pid)"
  [[ -n "$pid" ]] || { log "redis: not running"; return 0; }
  log "redis: SIGKILL pid $pid"
  kill -KILL "$pid"
  while pid_running "$pid"; do sleep 0.1; done
  rm -f "$REDIS_PIDFILE"
}

redis_status() {
  local pid; pid="$(redis_pid)"
  if [[ -n "$pid" ]]; then
    local port; port="$(cat "$REDIS_DIR/port" 2>/dev/null || echo "$REDIS_PORT")"
    echo "redis     running  pid $pid  127.0.0.1:$port  $(redis-server --version | grep -o 'v=[^ ]*')  log $REDIS_LOG"
  else
    echo "redis     stopped"; return 1
  fi
}

# ---------------------------------------------------------------------------------------------------------------------
# PostgreSQL: Debian's server binaries, a private cluster (not the distro's 15/main), owned by the postgres OS user
# ---------------------------------------------------------------------------------------------------------------------
pg_bin_dir() {
  local d; d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  [[ -n "$d" && -x "$d/pg_ctl" ]] && echo "$d"
}

# postgres refuses to run as root: as root, run its tools as the postgres OS user; otherwise as ourselves.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Where the cluster lives. The postgres user must be able to reach it; if the checkout is somewhere it cannot
# traverse (e.g. under /root), keep the cluster in /var/tmp and point .services/postgres at it.
pg_root() {
  if [[ -L "$PG_LINK" || -d "$PG_LINK" ]]; then readlink -f "$PG_LINK"; return; fi
  mkdir -p "$SERVICES_DIR"
  if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$SERVICES_DIR"; then
    # keyed by SERVICES_DIR: the test run's own services (scripts/test.sh) get their own cluster
    local alt; alt="/var/tmp/crypto-pipeline-pg-$(echo "$SERVICES_DIR" | cksum | cut -d' ' -f1)"
    log "postgres: user postgres cannot reach $SERVICES_DIR; keeping the cluster in $alt (linked from $PG_LINK)"
    mkdir -p "$alt" && ln -sfn "$alt" "$PG_LINK"
    echo "$alt"
  else
    mkdir -p "$PG_LINK" && echo "$PG_LINK"
  fi
}

PG_ROOT="" PG_BIN=""
pg_init_paths() {
  [[ -n "$PG_ROOT" ]] && return 0
  PG_ROOT="$(pg_root)"
  PG_DATA="$PG_ROOT/data" PG_LOG="$PG_ROOT/postgres.log" PG_SOCK="$PG_ROOT/run"
  PG_BIN="$(pg_bin_dir || true)"
}

pg_alive() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres; }
pg_psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres "$@"; }

pg_initdb_once() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
  log "postgres: initdb in $PG_DATA"
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$PG_ROOT"; fi
  # trust on the private unix socket (dir is ours, mode 0700) for setup; passwords (scram) over TCP.
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --no-locale --no-sync \
    --auth-local=trust --auth-host=scram-sha-256 >"$PG_ROOT/initdb.log" 2>&1 \
    || { log_tail "$PG_ROOT/initdb.log"; die "postgres: initdb failed"; }
  # Test/dev cluster: skip fsync (only an OS crash could lose data; a killed server still recovers from WAL).
  # synchronous_commit stays on, so a crash of the server (fault tests) never loses a committed transaction.
  cat >>"$PG_DATA/postgresql.conf" <<'EOF'

# --- added by scripts/services.sh ---
fsync = off
full_page_writes = off
shared_buffers = 64MB
max_connections = 100
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

postgres_start() {
  pg_init_paths
  if [[ -z "$PG_BIN" ]]; then
    apt_install postgresql
    PG_BIN="$(pg_bin_dir)" || die "postgres: no server binaries in /usr/lib/postgresql/*/bin after install"
  fi
  pg_initdb_once
  if pg_alive; then
    log "postgres: already running (pid $(sed -n 1p "$PG_DATA/postmaster.pid"))"
    check_running_port postgres <(sed -n 4p "$PG_DATA/postmaster.pid") "$PG_PORT"
  else
    ensure_port_free postgres "$PG_PORT"
    as_pg mkdir -p "$PG_SOCK" && as_pg chmod 700 "$PG_SOCK"
    log "postgres: starting PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT, log $PG_LOG"
    # Port, address and socket dir given at each start so PG_PORT can change between runs.
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$PG_WAIT" \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_SOCK" start >/dev/null 9>&- \
      || { log_tail "$PG_LOG"; die "postgres: pg_ctl start failed"; }
  fi
  local rc=0
  wait_until postgres "$PG_WAIT" pg_alive pg_ready || rc=$?
  case $rc in
    0) ;;
    2) log_tail "$PG_LOG"; die "postgres: the server is not running (exited during startup?)" ;;
    *) log_tail "$PG_LOG"; die "postgres: pg_isready failed on 127.0.0.1:$PG_PORT within ${PG_WAIT}s" ;;
  esac
  # App role and database (idempotent). CREATEDB so tests may make throw-away databases.
  pg_psql -d postgres <<EOF || die "postgres: could not create role/database"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')
\gexec
-- The benchmarks turn durability on for their run (bench/run.mjs --fsync on) and reset it afterwards.
GRANT ALTER SYSTEM ON PARAMETER fsync, full_page_writes TO $PG_USER;
\connect $PG_DB
GRANT EXECUTE ON FUNCTION pg_reload_conf() TO $PG_USER;
EOF
}

postgres_stop() {
  [[ -e "$PG_LINK" ]] || { log "postgres: not running"; return 0; }
  pg_init_paths
  if [[ -z "$PG_BIN" ]] || ! pg_alive; then log "postgres: not running"; return 0; fi
  log "postgres: stopping"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
}

# "Crash": immediate shutdown (no checkpoint; WAL recovery on next start), like a killed server.
postgres_kill() {
  [[ -e "$PG_LINK" ]] || { log "postgres: not running"; return 0; }
  pg_init_paths
  if [[ -z "$PG_BIN" ]] || ! pg_alive; then log "postgres: not running"; return 0; fi
  log "postgres: immediate stop (crash)"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null
}

postgres_status() {
  [[ -e "$PG_LINK" ]] || { echo "postgres  stopped"; return 1; }
  pg_init_paths
  if [[ -n "$PG_BIN" ]] && pg_alive; then
    local pid port; pid="$(sed -n 1p "$PG_DATA/postmaster.pid")" port="$(sed -n 4p "$PG_DATA/postmaster.pid")"
    echo "postgres  running  pid $pid  127.0.0.1:$port  PostgreSQL $(cat "$PG_DATA/PG_VERSION")  log $PG_LOG"
  else
    echo "postgres  stopped"; return 1
  fi
}

# ---------------------------------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------------------------------
print_env() {
  cat <<EOF
export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export DATABASE_URL=postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
EOF
}

# Validate service names into SVCS; none given means all three.
SVCS=()
select_services() {
  local s
  if (($# == 0)); then set -- "${ALL_SERVICES[@]}"; fi
  for s in "$@"; do
    case "$s" in kafka | redis | postgres) SVCS+=("$s") ;; *) die "unknown service '$s' (kafka, redis, postgres)" ;; esac
  done
}

# One `up`/`down` at a time: parallel test runners may all call `up`.
# The lock lives on fd 9, so every daemon we spawn gets `9>&-`: an inherited fd would hold the lock forever.
take_lock() {
  mkdir -p "$SERVICES_DIR"
  exec 9>"$SERVICES_DIR/.lock"
  flock -w 180 9 || die "another scripts/services.sh is still running (lock $SERVICES_DIR/.lock)"
}

start_services() {
  local s t0
  for s in "$@"; do
    t0="$(now)"
    "${s}_start"
    log "$s: ready ($(elapsed "$t0"))"
  done
}

stop_services() { local s; for s in "$@"; do "${s}_stop"; done; }

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# Tests may only stop or crash services their own run started. Under vitest (VITEST is set) or with
# SERVICES_OWNED_ONLY=1, stop/kill/restart/down/clean need SERVICES_OWNER to match the token scripts/test.sh wrote to
# $SERVICES_DIR/owner, and the exported addresses to be these services'. Anything else is refused, loudly.
require_owner() { # cmd
  [[ -n "${VITEST:-}" || "${SERVICES_OWNED_ONLY:-}" == 1 ]] || return 0
  local why="" have; have="$(cat "$SERVICES_DIR/owner" 2>/dev/null || true)"
  if [[ -z "${SERVICES_OWNER:-}" ]]; then why="SERVICES_OWNER is not set (the tests were not started by scripts/test.sh)"
  elif [[ "$have" != "$SERVICES_OWNER" ]]; then why="$SERVICES_DIR/owner does not name this run ($SERVICES_OWNER)"
  elif [[ -n "${KAFKA_BROKERS:-}" && "$KAFKA_BROKERS" != "127.0.0.1:$KAFKA_PORT" ]]; then why="KAFKA_BROKERS is not ours"
  elif [[ -n "${REDIS_URL:-}" && "$REDIS_URL" != "redis://127.0.0.1:$REDIS_PORT" ]]; then why="REDIS_URL is not ours"
  elif [[ -n "${DATABASE_URL:-}" && "$DATABASE_URL" != *"@127.0.0.1:$PG_PORT/"* ]]; then why="DATABASE_URL is not ours"
  fi
  [[ -z "$why" ]] || die "refusing to '$1': $why. Tests only stop services their own run started: run them with npm test."
}

main() {
  local cmd="${1:-}"; shift || true
  case "$cmd" in
    up)
      select_services "$@"
      take_lock; start_services "${SVCS[@]}"; print_env ;;
    start)
      (($# > 0)) || die "start: name the service(s)"
      select_services "$@"
      take_lock; start_services "${SVCS[@]}" ;;
    down | stop)
      [[ "$cmd" == down ]] || (($# > 0)) || die "stop: name the service(s)"
      require_owner "$cmd"
      select_services "$@"
      take_lock; stop_services "${SVCS[@]}" ;;
    restart)
      (($# > 0)) || die "restart: name the service(s)"
      require_owner "$cmd"
      select_services "$@"
      take_lock; stop_services "${SVCS[@]}"; start_services "${SVCS[@]}" ;;
    kill)
      (($# > 0)) || die "kill: name the service(s)"
      require_owner "$cmd"
      select_services "$@"
      take_lock; local s; for s in "${SVCS[@]}"; do "${s}_kill"; done ;;
    pause | resume)
      (($# > 0)) || die "$cmd: name the service(s)"
      select_services "$@"
      local s pid sig=STOP; [[ "$cmd" == pause ]] || sig=CONT
      for s in "${SVCS[@]}"; do
        case "$s" in
          kafka) pid="$(kafka_pid)" ;;
          redis) pid="$(redis_pid)" ;;
          *) die "$cmd: only kafka and redis (a stopped postmaster leaves its backends running)" ;;
        esac
        [[ -n "$pid" ]] || die "$cmd: $s is not running"
        log "$s: SIG$sig pid $pid"
        kill "-$sig" "$pid"
      done ;;
    status)
      select_services "$@"
      local s rc=0; for s in "${SVCS[@]}"; do "${s}_status" || rc=1; done; return $rc ;;
    env) print_env ;;
    clean)
      require_owner "$cmd"
      select_services "$@"
      take_lock; stop_services "${SVCS[@]}"
      local s dir
      for s in "${SVCS[@]}"; do
        dir="$SERVICES_DIR/$s"
        if [[ -L "$dir" ]]; then rm -rf -- "$(readlink -f "$dir")"; fi   # postgres cluster kept outside the repo
        rm -rf -- "$dir"
        log "$s: data removed"
      done ;;
    *) usage ;;
  esac
}

main "$@"

# The one MemberHub image: docker-compose.yml runs it as migrate, web, worker and beat, each with its own command.
# Nothing secret is built in: the key ring, the database password and the connector tokens arrive at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid, so the key file on the host can be given to it (chown 10001): the hub refuses a key file that
# other users can read. /var/lib/memberhub-keys receives the key ring (a Docker secret) and keeps the erasure
# ledger beside it; a named volume mounted there starts with this owner and mode.
RUN groupadd --system --gid 10001 memberhub \
 && useradd --system --uid 10001 --gid memberhub --home-dir /var/lib/memberhub --no-create-home \
      --shell /usr/sbin/nologin memberhub \
 && install -d -o memberhub -g memberhub -m 0700 /var/lib/memberhub /var/lib/memberhub-keys

COPY . /tmp/memberhub
RUN pip install "/tmp/memberhub[postgres]" && rm -rf /tmp/memberhub

USER memberhub
WORKDIR /var/lib/memberhub
ENV HUB_HOME=/var/lib/memberhub
EXPOSE 8000
CMD ["hub", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

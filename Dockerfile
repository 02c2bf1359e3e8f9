# One image for the web server and both django-q2 clusters (see docker-compose.yml).
FROM python:3.11.14-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client bubblewrap nodejs \
 && rm -rf /var/lib/apt/lists/*
# The factory runs unprivileged. bubblewrap then sandboxes the projects' tests in a user namespace
# (compose gives the agent the seccomp and AppArmor profiles that allow one).
ARG FACTORY_UID=1000
RUN useradd --create-home --uid "$FACTORY_UID" --user-group factory \
 && mkdir /data && chown factory:factory /data
# Git credentials live in /data/credentials, which the test sandbox hides from model-written code
# (docs/operations.md: "Git credentials"): an SSH key with its known_hosts, or a git-credentials file, read-only
# (the helper only reads it: git's `store` helper would try to rewrite it after every push).
RUN printf 'Host *\n  IdentityFile /data/credentials/ssh_key\n  UserKnownHostsFile /data/credentials/known_hosts ~/.ssh/known_hosts\n' \
      > /etc/ssh/ssh_config.d/factory.conf \
 && git config --system credential.helper \
      '!f() { test "$1" != get || exec git credential-store --file=/data/credentials/git-credentials get; }; f'
WORKDIR /app
# The factory in a virtualenv of its own, so the base interpreter the test sandbox shows stays bare: a project's
# tests never import the factory's Django or load its pytest plugins (agent/testruns/runner.py). The runtime only:
# the factory's test tools (requirements.txt: pytest-django, playwright, schemathesis ...) stay out of the image.
RUN python -m venv /opt/factory
ENV PATH=/opt/factory/bin:$PATH FACTORY_RUNNERS_DIR=/opt/runners
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --no-cache-dir -r requirements/runtime.txt
COPY . .
# The minimal runner (the base interpreter with pytest alone) built into the image: workers need no registry for it.
RUN python -c "from pathlib import Path; from agent.testruns.runner import python_runner; python_runner(Path('/opt/runners'))"
ENV FACTORY_DATA_DIR=/data FACTORY_BIND=0.0.0.0:8000 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER factory
EXPOSE 8000
CMD ["python", "-m", "factory_site.serve"]

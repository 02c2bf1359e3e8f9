# Two commands for a newcomer: `make run` and `make test` (see README).
#   make run            the factory with waitress; Ctrl-C (or SIGTERM/SIGINT to make) stops it all
#   make run DEV=1      the same with Django's runserver, reloading on code changes
#   make demo           a local demo repository, a project and a ticket on it (while `make run` runs)
#   make token NAME=claude [ROLE=architect|reviewer]   an API token, from any shell, while `make run` runs
PYTHON ?= python3
VENV := .venv
export FACTORY_DATA_DIR ?= $(CURDIR)/var
ROLE ?= architect

.PHONY: run test token demo install clean-data

$(VENV)/.installed: requirements.txt requirements/runtime.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	@touch $@

install: $(VENV)/.installed

# `exec`: the script is make's own child, so it can see when make itself is told to stop.
run: $(VENV)/.installed
	@exec bash scripts/run.sh $(if $(DEV),--dev)

test: $(VENV)/.installed
	@bash scripts/test.sh $(ARGS)

token: $(VENV)/.installed
	@test -n "$(NAME)" || { echo "usage: make token NAME=claude [ROLE=architect|reviewer]" >&2; exit 2; }
	@$(VENV)/bin/python manage.py factory_token "$(NAME)" --role "$(ROLE)"

# A local demo repository, its project and a first ticket, for a first look (while `make run` runs).
demo: $(VENV)/.installed
	@$(VENV)/bin/python manage.py factory_demo

# Everything `make run` keeps: the private database (wherever it lives) and FACTORY_DATA_DIR.
clean-data:
	@pgdir="$${FACTORY_PG_DIR:-$$(bash scripts/pg_cluster.sh default-dir "$(FACTORY_DATA_DIR)")}"; \
	  bash scripts/pg_cluster.sh stop "$$pgdir" && rm -rf "$$pgdir" "$(FACTORY_DATA_DIR)"

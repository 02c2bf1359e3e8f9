# Two commands for a newcomer: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
export FACTORY_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test install clean-data

$(VENV)/.installed: requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	@touch $@

install: $(VENV)/.installed

run: $(VENV)/.installed
	@bash scripts/run.sh

test: $(VENV)/.installed
	@bash scripts/test.sh $(ARGS)

clean-data:
	@bash scripts/pg_cluster.sh stop "$(FACTORY_DATA_DIR)/postgres"
	rm -rf "$(FACTORY_DATA_DIR)"

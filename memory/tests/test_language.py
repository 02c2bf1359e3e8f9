"""Keyword search in the team's language: Qdrant's stemmer and stop words per FACTORY_MEMORY_LANGUAGE or project."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import qdrant_edge as edge
from django.core.management import CommandError, call_command
from qdrant_client import QdrantClient

from lib.languages import BM25_LANGUAGES
from memory import engine, selectors, services
from memory.index import EmbeddedIndex, IndexPoint, ServerIndex
from tests.fake_ollama import unreachable_url
from tickets.models import Project

REPO_ROOT = Path(__file__).resolve().parents[2]
PDFKIT = "Los PDFs de facturas se generan con pdfkit"
SPANISH_DISTRACTORS = [
    "La lista de tickets se pagina de 50 en 50",
    "Los tests de integración usan la base de datos de pruebas",
    "El endpoint de clientes devuelve 404 si el cliente no existe",
    "Las facturas rectificativas necesitan el número de la factura original",
    "Generar el informe de ventas en CSV desde el panel",
    "Cada factura se numera por serie y año fiscal",
]


def test_qdrant_accepts_every_language_the_setting_allows():
    for language in BM25_LANGUAGES:
        edge.Bm25(edge.Bm25Config(language=language))
    assert "spanish" in BM25_LANGUAGES and "english" in BM25_LANGUAGES


def test_an_unknown_language_stops_the_process_naming_the_variable():
    environment = {**os.environ, "FACTORY_MEMORY_LANGUAGE": "klingon", "PYTHONPATH": str(REPO_ROOT)}
    started = subprocess.run([sys.executable, "-c", "import factory_site.settings"], capture_output=True, text=True,
                             env=environment, cwd=REPO_ROOT)
    assert started.returncode != 0
    assert "FACTORY_MEMORY_LANGUAGE='klingon' must be one of" in started.stderr


@pytest.fixture
def memory_down(settings, tmp_path):
    """The memory on its own data folder, with Ollama stopped: BM25 alone."""
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    settings.OLLAMA_HOST = unreachable_url()
    engine.forget_compatibility()
    yield
    engine.index().close()


def store_all(texts: list[str], project: Project | None = None, language: str | None = None) -> dict[str, str]:
    stored = {}
    for text in texts:
        item, _, _ = services.store_item(text=text, kind="decision", source="architect", project=project,
                                         language=language)
        stored[text] = str(item.pk)
    return stored


@pytest.mark.django_db
def test_spanish_stemming_finds_the_pdfkit_decision_with_ollama_stopped(settings, memory_down):
    settings.FACTORY_MEMORY_LANGUAGE = "spanish"
    store_all([*SPANISH_DISTRACTORS, PDFKIT])

    found = selectors.search(query="generar pdf de factura", k=5)

    assert found.mode == "bm25"
    assert found.items[0][0].text == PDFKIT
    assert not [warning for warning in found.warnings if "another language" in warning]


@pytest.mark.django_db
def test_changing_the_language_is_detected_and_reset_fixes_it(settings, memory_down):
    store_all([*SPANISH_DISTRACTORS, PDFKIT])  # indexed with the default, English
    settings.FACTORY_MEMORY_LANGUAGE = "spanish"

    before = selectors.search(query="generar pdf de factura", k=5)
    assert any("7 memory items of items without a project were indexed for keyword search in another language"
               in warning and "memory_reembed --reset" in warning for warning in before.warnings)

    settings.OLLAMA_HOST = unreachable_url()
    with pytest.raises(CommandError, match="unreachable"):
        call_command("memory_reembed", "--reset")  # rebuilt on BM25, then embedding fails: Ollama is down
    after = selectors.search(query="generar pdf de factura", k=5)
    assert not [warning for warning in after.warnings if "another language" in warning]
    assert after.items[0][0].text == PDFKIT


@pytest.mark.django_db
def test_a_project_language_given_by_the_caller_is_used_for_its_items_and_queries(settings, memory_down):
    nexo = Project.objects.create(name="nexo", repo_url="/tmp/nexo", test_command="true")
    store_all([*SPANISH_DISTRACTORS, PDFKIT], project=nexo, language="spanish")

    found = selectors.search(query="generar pdf de factura", k=5, project="nexo", language="spanish")
    assert found.items[0][0].text == PDFKIT and found.warnings[0].startswith("Searched on BM25 alone")

    in_english = selectors.search(query="generar pdf de factura", k=5, project="nexo", language="english")
    assert any("of project 'nexo' were indexed for keyword search in another language than 'english'" in warning
               for warning in in_english.warnings)


def test_project_language_falls_back_to_the_setting(settings):
    settings.FACTORY_MEMORY_LANGUAGE = "french"
    assert selectors.project_language(None) == "french"
    assert selectors.project_language(Project(name="x")) == "french"


@pytest.fixture(params=["embedded", "server"])
def index(request, tmp_path):
    if request.param == "embedded":
        shared = EmbeddedIndex(tmp_path / "memory", dim=4)
        yield shared
        shared.close()
    else:
        yield ServerIndex(QdrantClient(":memory:"), collection="language_test", dim=4)


def spanish_point(text: str, project: str | None, language: str) -> IndexPoint:
    return IndexPoint(id=str(uuid.uuid4()), text=text, dense=None, language=language,
                      payload={"project": project, "kind": "decision", "tags": []})


def test_both_backends_stem_documents_and_queries_in_the_points_language(index):
    pdfkit = spanish_point(PDFKIT, "nexo", "spanish")
    index.upsert([pdfkit, *(spanish_point(text, "nexo", "spanish") for text in SPANISH_DISTRACTORS)])

    hits = index.search(text="generar pdf de factura", dense=None, k=3, project="nexo", language="spanish")

    assert hits[0].id == pdfkit.id
    assert "language" not in hits[0].payload
    assert index.language_mismatches(language="spanish", project="nexo") == 0
    assert index.language_mismatches(language="english", project="nexo") == len(SPANISH_DISTRACTORS) + 1
    assert index.language_mismatches(language="spanish", project=None) == 0

"""Ticket.change reads codigo_generado through its schema: old rows show on the API and the review page."""
import pytest
from django.test import Client

from lib.changerecord import ChangeRecord
from tests.support import make_user
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

OLD_DIFF = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"


def completed_with(project, stored) -> Ticket:
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "t", "descripcion": "d"})
    Ticket.objects.filter(pk=ticket.pk).update(estado="completed", codigo_generado=stored, branch_name="factory/x")
    return Ticket.objects.get(pk=ticket.pk)


def test_a_row_written_before_base_head_and_files_existed_still_reads(project, api):
    ticket = completed_with(project, {"diff": OLD_DIFF})
    assert ticket.change == ChangeRecord(diff=OLD_DIFF)
    shown = api.get(f"/api/factory/tickets/{ticket.pk}").data["codigo_generado"]
    assert shown == {"diff_truncated": False, "files": [], "base": "", "head": "", "files_total": 0}
    raw = api.get(f"/api/factory/tickets/{ticket.pk}/diff")
    assert raw.status_code == 200 and raw.content.decode() == OLD_DIFF  # the stored preview: no commits to read
    client = Client()
    client.force_login(make_user("rev", role="reviewer", staff=True))
    page = client.get(f"/review/{ticket.pk}/")
    assert page.status_code == 200 and "x.py" in page.content.decode()  # its file, drawn from the preview


def test_the_api_lists_the_stored_files_with_their_links(project, api):
    ticket = completed_with(project, ChangeRecord(diff=OLD_DIFF, files=({"path": "x.py", "added": 1, "removed": 1},),
                                                  base="b" * 40, head="h" * 40).to_json())
    shown = api.get(f"/api/factory/tickets/{ticket.pk}").data["codigo_generado"]
    assert shown["head"] == "h" * 40 and shown["files_total"] == 1 and "diff" not in shown
    assert shown["files"][0]["path"] == "x.py" and shown["files"][0]["diff"].endswith("/diff?path=x.py")


def test_no_change_stored_is_null(project, api):
    ticket = completed_with(project, None)
    assert api.get(f"/api/factory/tickets/{ticket.pk}").data["codigo_generado"] is None
    assert ticket.change == ChangeRecord()

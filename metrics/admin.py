"""The metrics page inside the admin (/admin/metrics/), added to an AdminSite by wrapping its get_urls."""
from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path
from django.utils.safestring import SafeString

from lib import charts
from metrics import definitions
from metrics import selectors as metrics
from tickets.models import Project

# One colour per quantity, the same on every chart of the page.
COLORS = {"first": "#4e79a7", "tests": "#b07aa1", "model": "#4e79a7", "test_time": "#f28e2b",
          "rest": "#9d9d9d", "failure": "#e15759", "review": "#59a14f"}
# Set on the get_urls that install() gives a site, so that a second install leaves it alone.
INSTALLED_MARK = "serves_metrics"


def install(site: admin.AdminSite) -> None:
    """Serve the page at <admin>/metrics/ (URL name "admin:factory-metrics"), behind the site's staff login."""
    original = site.get_urls
    if getattr(original, INSTALLED_MARK, False):
        return

    def get_urls() -> list[URLPattern | URLResolver]:
        return [path("metrics/", site.admin_view(lambda request: metrics_view(request, site)),
                     name="factory-metrics"), *original()]

    setattr(get_urls, INSTALLED_MARK, True)
    # Replacing the method of this one site (not of its class) is the point: mypy refuses any method assignment.
    site.get_urls = get_urls  # type: ignore[method-assign]


def metrics_view(request: HttpRequest, site: admin.AdminSite) -> TemplateResponse:
    context = {**site.each_context(request), "title": "Factory metrics", "projects": project_names(),
               "params": {key: request.GET.get(key, "") for key in ("project", "since", "until")}}
    try:
        filters = definitions.parse_filters(request.GET)
    except definitions.MetricsFilterError as exc:
        return TemplateResponse(request, "metrics/metrics.html", {**context, "errors": exc.errors}, status=400)
    data = metrics.factory_metrics(filters=filters)
    return TemplateResponse(request, "metrics/metrics.html",
                            {**context, "metrics": data, "charts": page_charts(data),
                             "time_rows": time_rows(data["time_per_ticket"]), "breakdowns": breakdowns(data),
                             "targets": definitions.TARGETS})


def project_names() -> list[str]:
    return list(Project.objects.order_by("name").values_list("name", flat=True))


def time_rows(split: dict) -> list[tuple[str, dict]]:
    labels = {"total": "Total", "model": "Model", "tests": "Tests", "rest": "The rest"}
    return [(labels[key], split[key]) for key in ("total", "model", "tests", "rest")]


def breakdowns(data: dict) -> list[tuple[str, list[tuple[str, dict]]]]:
    return [
        ("Per project", [(row["project"], row) for row in data["by_project"]]),
        ("Per model (model of the first attempt)", [(row["model"] or "(unnamed)", row) for row in data["by_model"]]),
        ("Week by week (ISO week)", [(row["week"], row) for row in reversed(data["by_week"])]),
    ]


def _pct(value: float | None) -> float | None:
    return None if value is None else value * 100


def _minutes(value: float | None) -> float | None:
    return None if value is None else value / 60


def page_charts(data: dict) -> dict[str, SafeString]:
    weeks = data["by_week"]
    return {
        "weekly_rates": charts.line_chart(
            title="Seed rates week by week", labels=[row["week"] for row in weeks],
            series=[charts.Series("Completed on 1st attempt", [_pct(row["first_attempt_completion"]["value"])
                                                               for row in weeks], COLORS["first"]),
                    charts.Series("Tests pass on 1st attempt", [_pct(row["tests_first_attempt"]["value"])
                                                                for row in weeks], COLORS["tests"])],
            targets=[charts.TargetLine(60, "target 60 %", COLORS["first"]),
                     charts.TargetLine(70, "target 70 %", COLORS["tests"])]),
        "weekly_time": charts.stacked_columns(
            title="Average minutes per ticket, week by week", labels=[row["week"] for row in weeks],
            series=time_series([row["time_seconds"] for row in weeks]),
            target=charts.TargetLine(10, "target 10 min")),
        "by_project": rate_rows("Seed rates per project", [row["project"] for row in data["by_project"]],
                                data["by_project"]),
        "by_model": rate_rows("Seed rates per model", [row["model"] or "(unnamed)" for row in data["by_model"]],
                              data["by_model"]),
        "model_time": charts.bar_rows(
            title="Average minutes per ticket per model", labels=[row["model"] or "(unnamed)"
                                                                  for row in data["by_model"]],
            series=[charts.Series("Minutes", [_minutes(row[definitions.TICKET_TIME.key]["value"])
                                              for row in data["by_model"]], COLORS["model"])],
            targets=[10], fmt=lambda value: f"{value:.1f} min"),
        "model_speed": charts.bar_rows(
            title="Output tokens per second, per model", labels=[row["model"] or "(unnamed)"
                                                                 for row in data["by_model"]],
            series=[charts.Series("Tokens/s", [row["eval_tokens_per_second"] for row in data["by_model"]],
                                  COLORS["test_time"])]),
        "failures": charts.bar_rows(
            title="Failed attempts by reason", labels=[reason["label"] for reason in data["failures"]["reasons"]],
            series=[charts.Series("Attempts", [reason["count"] for reason in data["failures"]["reasons"]],
                                  COLORS["failure"])],
            fmt=lambda value: f"{value:.0f}"),
        "review": review_chart(data["review"]),
    }


def time_series(splits: list[dict]) -> list[charts.Series]:
    return [charts.Series(name, [_minutes(split[key]["avg"]) for split in splits], COLORS[color])
            for name, key, color in (("Model", "model", "model"), ("Tests", "tests", "test_time"),
                                     ("The rest", "rest", "rest"))]


def rate_rows(title: str, labels: list[str], rows: list[dict]) -> SafeString:
    return charts.bar_rows(
        title=title, labels=labels, top_value=100, fmt=charts.percent, targets=[60, 70],
        series=[charts.Series("Completed on 1st attempt", [_pct(row["first_attempt_completion"]["value"])
                                                           for row in rows], COLORS["first"]),
                charts.Series("Tests pass on 1st attempt", [_pct(row["tests_first_attempt"]["value"])
                                                            for row in rows], COLORS["tests"])])


def review_chart(review: dict) -> SafeString:
    labels = ["Merged first time", "Merged after changes", "Changes requested", "Awaiting review"]
    values = [review["merged_first_time"], review["merged_after_changes"], review["changes_requested_tickets"],
              review["awaiting_review"]]
    if not any(values):
        values = [None] * len(values)
    return charts.bar_rows(title="Review outcomes (tickets)", labels=labels,
                           series=[charts.Series("Tickets", values, COLORS["review"])],
                           fmt=lambda value: f"{value:.0f}")


# The page lives inside the admin site, behind its staff login.
install(admin.site)

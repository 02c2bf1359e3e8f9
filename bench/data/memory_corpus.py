"""Corpus for the memory benchmark: labelled facts, two queries each, plus realistic distractors.

The facts are the kind of items the factory's shared memory holds (lessons, errors and their
fixes, decisions) for the Nexo backend/frontend, the factory itself and a small Python
project. Each fact has two queries written the way an implementer or architect would ask:
usually one quoting the symptom or error, one paraphrasing it. Distractors are generated
from templates over the same vocabulary (tickets, attempt logs, near-miss lessons), so a
query's words also appear in many irrelevant items.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

NAMESPACE = uuid.UUID("6f1c7a8e-58a4-4cf5-9a55-3c1f0d7e2b10")
BACKEND, FRONTEND, FACTORY, PYINV = "nexo-backend", "nexo-frontend", "factory", "pyinventory"


@dataclass(frozen=True)
class CorpusItem:
    id: str
    text: str
    kind: str
    project: str | None
    tags: tuple[str, ...]


@dataclass(frozen=True)
class LabelledQuery:
    text: str
    relevant: frozenset[str]


# (kind, project, tags, text, (query, query))
FACTS: list[tuple[str, str | None, tuple[str, ...], str, tuple[str, str]]] = [
    ("lesson", BACKEND, ("rls", "postgres"),
     "Use RLSContextManager.query() for every tenant query in controllers; a raw pool.query() bypasses "
     "row level security and leaks rows from other tenants.",
     ("how to run a tenant-scoped SQL query in a controller", "pool.query returns rows of other companies")),
    ("lesson", BACKEND, ("express",),
     "Wrap every Express route handler in asyncHandler(); an async handler that throws without it leaves the "
     "request hanging until the client times out.",
     ("express request hangs forever when the async controller throws",
      "which wrapper must route handlers use for async errors")),
    ("error", BACKEND, ("postgres", "migrations"),
     "Error 'permission denied for schema factory' when running migrations: the app role lacks USAGE on schema "
     "factory; grant it in the init SQL script, not in the migration.",
     ("permission denied for schema factory during migrate",
      "migration fails because database role cannot use the factory schema")),
    ("decision", BACKEND, ("contabilidad", "pdf"),
     "Decision: PDFs for invoices (facturas) are generated with pdfkit streamed directly to the response, never "
     "written to disk, so containers stay stateless.",
     ("generate invoice PDF endpoint in contabilidad", "should the factura pdf be saved to a temp file")),
    ("lesson", BACKEND, ("rls", "http"),
     "Cross-tenant access: return 404 when the row does not exist at all and 403 only when it exists in another "
     "tenant; check ownership after the RLS lookup returns no row.",
     ("test expects 403 si otro tenant but endpoint returns 404",
      "difference between not found and forbidden for cross-tenant access")),
    ("error", BACKEND, ("jest", "auth"),
     "Jest test of facturas.controller failed with 'Cannot read properties of undefined (reading tenantId)': tests "
     "must set req.user via the mockAuth helper in test/utils/auth.js.",
     ("TypeError cannot read properties of undefined reading tenantId in jest",
      "how to fake the logged-in user in controller unit tests")),
    ("lesson", BACKEND, ("money",),
     "Money amounts are stored as NUMERIC(14,2) and handled with decimal.js in the backend; JavaScript floats "
     "produced rounding errors of one cent in invoice totals.",
     ("invoice total off by 0.01", "what type to use for currency amounts in the node backend")),
    ("lesson", BACKEND, ("postgres", "dates"),
     "Dates from PostgreSQL DATE columns must be parsed with the pg type parser override "
     "types.setTypeParser(1082, v => v); otherwise node-postgres shifts them by the server timezone.",
     ("date column comes back one day earlier in node", "node-postgres timezone shift for date fields")),
    ("decision", BACKEND, ("structure",),
     "Decision: all new endpoints live under backend/app/modules/<module>/ with controllers/, models/, routes/ "
     "and services/ folders; routes are registered in app/routes/index.js.",
     ("where do I put a new module's route file", "folder layout for a new backend module")),
    ("error", BACKEND, ("orm",),
     "Sequelize was removed; importing models from 'sequelize' fails with MODULE_NOT_FOUND. Models are plain SQL "
     "helpers in models/*.model.js built on RLSContextManager.",
     ("Cannot find module 'sequelize'", "which ORM does the nexo backend use")),
    ("lesson", BACKEND, ("api",),
     "Pagination in list endpoints uses ?page and ?limit with a hard maximum of 100; the helper paginate() in "
     "app/utils/pagination.js returns {data, total, page}.",
     ("add pagination to GET list endpoint", "maximum page size for list APIs")),
    ("lesson", BACKEND, ("validation",),
     "Request bodies are validated with Joi schemas in the module's validators/ folder through the "
     "validate(schema) middleware; controllers must not validate by hand.",
     ("how to validate POST body fields", "where do request validation schemas go")),
    ("error", BACKEND, ("jest", "pos"),
     "ventas.controller tests failed with 'deadlock detected' when two tests updated the same stock row; each "
     "test must create its own product fixture instead of sharing the seed product.",
     ("deadlock detected in ventas tests", "flaky tests fighting over the same inventory row")),
    ("lesson", BACKEND, ("inventario", "transactions"),
     "Stock movements (inventario) must be written in the same transaction as the sale; use "
     "RLSContextManager.transaction(async (client) => ...) so a failed sale does not leave stock decremented.",
     ("stock decremented even though sale failed", "how to run sale and inventory update atomically")),
    ("decision", BACKEND, ("webhooks", "security"),
     "Decision: webhooks to the Qwen agent are signed with HMAC-SHA256 over the raw body using "
     "FACTORY_WEBHOOK_SECRET; the receiver rejects requests older than 5 minutes.",
     ("how is the webhook to the agent authenticated", "verify signature of factory webhook")),
    ("error", BACKEND, ("express", "imports"),
     "Express returned 413 Payload Too Large for CSV imports over 100kb: raise the limit only on the import route "
     "with express.json({limit: '5mb'}), not globally.",
     ("413 payload too large on csv import", "request body size limit for uploads")),
    ("lesson", BACKEND, ("audit",),
     "Audit columns created_by and updated_by are filled by the auditFields() helper from req.user; forgetting it "
     "makes the NOT NULL constraint on created_by fail.",
     ("null value in column created_by violates not-null constraint", "who fills created_by on inserts")),
    ("lesson", BACKEND, ("nomina", "money"),
     "Nómina (payroll) calculations round each line to 2 decimals before summing, as the accounting team requires; "
     "rounding only the total gave mismatches against the legacy system.",
     ("payroll totals differ from legacy by a few cents", "rounding rule for nomina lines")),
    ("error", BACKEND, ("jest", "reportes"),
     "Tests for the reportes module timed out because they generated 10k rows; use the small fixture set in "
     "test/fixtures/reportes-small.sql.",
     ("reportes tests exceed jest timeout", "test data for the reports module is too big")),
    ("lesson", BACKEND, ("config", "lint"),
     "Environment variables are read only through app/config/index.js, which validates them at startup; "
     "process.env access elsewhere fails the lint rule no-process-env.",
     ("eslint error no-process-env", "where to read configuration values in backend code")),
    ("decision", BACKEND, ("clientes",),
     "Decision: soft delete with deleted_at for clientes and proveedores; list queries must add deleted_at IS NULL "
     "because the RLS policies do not filter deleted rows.",
     ("deleted customers still appear in the list", "how are clientes removed")),
    ("lesson", BACKEND, ("logging",),
     "Use the logger from app/utils/logger.js (pino) with the request id; console.log output is dropped in "
     "production containers.",
     ("console.log messages missing in production", "logging in backend controllers")),
    ("error", BACKEND, ("migrations", "postgres"),
     "Migration 0042 failed with 'column tenant_id contains null values': backfill tenant_id before adding NOT NULL "
     "in a separate migration.",
     ("adding NOT NULL to tenant_id fails because of existing rows",
      "column contains null values when altering table")),
    ("lesson", BACKEND, ("rls", "postgres"),
     "Every new table needs ENABLE ROW LEVEL SECURITY plus the tenant_isolation policy from "
     "sql/policies/template.sql; without it RLSContextManager returns all tenants' rows.",
     ("new table returns rows from every tenant", "create RLS policy for a new table")),
    ("lesson", BACKEND, ("pos", "taxes"),
     "The pos module computes IVA per line with the tax rate stored on the product at sale time, not the current "
     "rate, so old receipts reprint identically.",
     ("reprinted receipt shows different tax", "which IVA rate to use for historical ventas")),
    ("error", BACKEND, ("http", "cors"),
     "CORS error from the frontend on PATCH requests: the cors() config listed only GET and POST methods; add PATCH "
     "and DELETE.",
     ("PATCH blocked by CORS policy", "preflight request fails for update calls")),
    ("lesson", BACKEND, ("storage",),
     "File uploads go to the S3-compatible MinIO bucket via storage.put(); never store binary files in PostgreSQL "
     "bytea columns.",
     ("where to store uploaded attachments", "save invoice attachment file")),
    ("decision", BACKEND, ("api", "errors"),
     "Decision: API errors follow {error: {code, message, details}} produced by the errorHandler middleware; throw "
     "AppError(code, message, status) from services.",
     ("what JSON shape should API errors return", "how to return a 422 error from a service")),
    ("error", BACKEND, ("jest", "auth"),
     "supertest requests in tests got 401 because the JWT fixture expired; tests must use makeToken(), which signs "
     "with a one-hour expiry at test time.",
     ("401 unauthorized in supertest tests", "jwt token in tests expired")),
    ("lesson", BACKEND, ("postgres", "performance"),
     "Every column used in RLS policies (tenant_id) needs an index; the facturas list took 4 seconds without "
     "idx_facturas_tenant_id.",
     ("facturas list endpoint is very slow", "query plan sequential scan on tenant_id")),
    ("lesson", FRONTEND, ("react", "cache"),
     "React Query keys must include the tenant id; otherwise switching company shows cached data from the "
     "previous tenant.",
     ("after switching company the table shows old data", "cache key for useQuery")),
    ("error", FRONTEND, ("react", "money"),
     "'Objects are not valid as a React child' in InvoiceRow: the API returns money as {amount, currency}; render "
     "it through formatMoney().",
     ("Objects are not valid as a React child", "display a price object in a component")),
    ("lesson", FRONTEND, ("forms", "validation"),
     "Forms use react-hook-form with zod schemas mirrored from the backend Joi validators; keep field names "
     "identical to the API.",
     ("build a form with validation in the frontend", "which form library does nexo frontend use")),
    ("decision", FRONTEND, ("dates",),
     "Decision: dates are shown in the user's timezone with date-fns-tz; the API always sends ISO UTC strings.",
     ("dates displayed in UTC instead of local time", "timezone handling in UI")),
    ("error", FRONTEND, ("vite", "config"),
     "Vite build failed with 'process is not defined': use import.meta.env.VITE_* instead of process.env in "
     "frontend code.",
     ("process is not defined in vite", "read environment variables in the frontend")),
    ("lesson", FRONTEND, ("e2e", "playwright"),
     "Playwright e2e tests select elements by data-testid, never by CSS classes, because Tailwind classes change "
     "often.",
     ("e2e selector broke after styling change", "how to select elements in playwright tests")),
    ("lesson", FACTORY, ("pytest", "django"),
     "pytest tests that touch the database need the @pytest.mark.django_db marker (or the db fixture); otherwise "
     "they fail with 'Database access not allowed'.",
     ("RuntimeError Database access not allowed, use the django_db mark", "test can't query models")),
    ("lesson", FACTORY, ("git", "worktree"),
     "The implementer agent must run git commands inside the ticket's worktree (git -C <worktree>), never in the "
     "main checkout, or two tickets overwrite each other's changes.",
     ("two tickets modified the same checkout", "where to run git commands for a ticket")),
    ("error", FACTORY, ("git", "worktree"),
     "'fatal: <branch> is already checked out at ...' when creating a worktree: delete stale worktrees with "
     "git worktree prune before retrying the ticket.",
     ("fatal already checked out at worktree", "retry of a ticket fails creating the branch")),
    ("lesson", FACTORY, ("django-q2", "tasks"),
     "django-q2 tasks must receive primary keys, not model instances; pickled instances go stale and broke retries "
     "when the ticket row changed.",
     ("async_task with model instance argument", "task saw outdated ticket status")),
    ("decision", FACTORY, ("ollama", "prompts"),
     "Decision: the code model is qwen2.5-coder served by Ollama; edits are requested as search/replace blocks, not "
     "whole files, to keep prompts under the context window.",
     ("which format does the model use to return code edits",
      "model output exceeded the context window with full files")),
    ("error", FACTORY, ("ollama",),
     "Ollama returned 'model qwen2.5-coder:14b not found, try pulling it first'; run ollama pull qwen2.5-coder:14b "
     "on the host.",
     ("model not found try pulling it first", "ollama says the coder model is missing")),
    ("lesson", FACTORY, ("tickets", "states"),
     "Ticket state changes go through tickets.states.transition(); setting ticket.state directly skips the audit "
     "event and the reviewer never gets notified.",
     ("reviewer not notified when ticket completed", "how to change a ticket's status")),
    ("lesson", FACTORY, ("prompts", "retries"),
     "Retries: the agent feeds the failing test output (last 200 lines) back to the model on attempts 2 and 3; "
     "sending the whole log blew the context and made results worse.",
     ("what to send the model when tests fail", "retry prompt too long")),
    ("error", FACTORY, ("subprocess", "tests"),
     "The test subprocess hung because the project's tests waited for input; run them with stdin=DEVNULL and a "
     "timeout.",
     ("implementer stuck running tests forever", "subprocess waiting on input")),
    ("lesson", FACTORY, ("memory", "embeddings"),
     "Memory items are embedded with nomic-embed-text using the prefixes 'search_document: ' and "
     "'search_query: '; without the prefixes retrieval quality drops.",
     ("nomic embed text prefix", "why are search results poor with nomic embeddings")),
    ("decision", FACTORY, ("memory", "qdrant"),
     "Decision: the shared memory (Cipher) keeps items in PostgreSQL and only vectors in Qdrant, so the index can "
     "be rebuilt with memory_reembed --reset.",
     ("rebuild the qdrant collection from scratch", "where is the source of truth for memory items")),
    ("error", FACTORY, ("drf", "auth"),
     "DRF returned 403 'Authentication credentials were not provided' for the architect token: the Authorization "
     "header must be 'Token <key>', not 'Bearer <key>'.",
     ("Authentication credentials were not provided with bearer token", "how to send the API token")),
    ("lesson", FACTORY, ("django", "performance"),
     "Use select_related('project') in ticket list views; the admin page made one query per row (N+1) and took "
     "3 s with 500 tickets.",
     ("ticket list page slow many queries", "N+1 queries in django list")),
    ("lesson", FACTORY, ("git",),
     "Push with --force-with-lease, and only on the ticket branch; a plain --force once overwrote a reviewer's "
     "fixup commit.",
     ("safe way to force push a ticket branch", "reviewer commit lost after push")),
    ("error", FACTORY, ("git", "docker"),
     "git push failed with 'Permission denied (publickey)' inside the worker container: mount the deploy key and "
     "set GIT_SSH_COMMAND with -i.",
     ("Permission denied publickey when pushing", "worker can't push to remote")),
    ("lesson", FACTORY, ("git", "review"),
     "The reviewer's merge uses --no-ff so each ticket appears as one merge commit and can be reverted with "
     "git revert -m 1.",
     ("how to revert a merged ticket", "merge strategy for ticket branches")),
    ("lesson", FACTORY, ("config", "django"),
     "Settings come from environment variables read in factory_site/env.py; a missing required one raises "
     "ImproperlyConfigured with the variable name.",
     ("ImproperlyConfigured missing environment variable", "where are factory settings loaded")),
    ("error", FACTORY, ("pytest", "postgres"),
     "'django.db.utils.OperationalError: database is locked' in tests came from the sqlite default; tests must use "
     "the PostgreSQL test database configured by DATABASE_URL.",
     ("database is locked error in tests", "which database do tests use")),
    ("lesson", FACTORY, ("edits",),
     "Edits from the model are applied with exact-match search blocks; when the search text is not found the agent "
     "retries with the file content re-sent, never fuzzy-patches.",
     ("search block not found in file", "edit could not be applied to source file")),
    ("decision", FACTORY, ("django-q2", "git"),
     "Decision: tickets are processed one at a time per project (a per-project lock in the django-q2 cluster) "
     "because parallel runs on the same repo caused merge conflicts.",
     ("can two tickets of the same project run in parallel", "merge conflicts between simultaneous tickets")),
    ("lesson", FACTORY, ("memory",),
     "Lessons saved to memory should state the symptom, the cause and the fix in one or two sentences; long "
     "transcripts made retrieval noisy.",
     ("how to write a good lesson for the memory", "memory search returns long noisy logs")),
    ("error", FACTORY, ("memory", "qdrant"),
     "Qdrant answered 'Wrong input: Vector dimension error: expected dim: 768, got 1024' after switching the "
     "embedding model: run memory_reembed --reset.",
     ("Vector dimension error expected dim 768 got 1024", "changed the embedding model and search fails")),
    ("lesson", FACTORY, ("review", "pygments"),
     "The review page renders diffs with pygments per file; binary files are listed but not rendered to avoid "
     "decoding errors.",
     ("UnicodeDecodeError rendering diff", "binary file in review diff")),
    ("lesson", FACTORY, ("logging",),
     "Worker logs go to FACTORY_DATA_DIR/logs/<ticket>.log; the ticket API exposes the last attempt's log tail for "
     "the architect.",
     ("where are the implementer logs", "see why a ticket attempt failed")),
    ("error", FACTORY, ("pytest", "worktree"),
     "pytest collected 0 items in the worktree because the project's pytest.ini sets testpaths; run pytest from the "
     "worktree root.",
     ("no tests ran collected 0 items", "pytest finds no tests in worktree")),
    ("lesson", FACTORY, ("ollama", "prompts"),
     "Call qwen2.5-coder with num_ctx=16384 and temperature 0.2; a higher temperature produced invalid edit "
     "blocks.",
     ("model produces malformed edit blocks", "ollama options for the coder model")),
    ("decision", FACTORY, ("api", "tickets"),
     "Decision: the architect creates tickets only through the REST API (POST /api/tickets/), and every ticket "
     "must list the files to modify and the required tests.",
     ("create a ticket via API", "required fields of a ticket")),
    ("error", FACTORY, ("django-q2", "transactions"),
     "'Ticket matching query does not exist' in the worker: the task ran before the transaction creating the "
     "ticket committed; enqueue with transaction.on_commit.",
     ("DoesNotExist in task right after creating ticket", "task starts before the row is committed")),
    ("lesson", FACTORY, ("tests", "ci"),
     "Run the project's test command exactly as given in the project config (e.g. npm test -- --runInBand); "
     "guessed commands made tests pass locally but not in CI.",
     ("which command to run tests of a project", "tests pass locally but fail in CI runner")),
    ("lesson", FACTORY, ("prompts", "memory"),
     "Before asking the model, the agent loads the files listed in archivos_referencia and the top 5 memory hits "
     "into the prompt; more than 5 hits diluted the context.",
     ("how many memory results to include in the prompt", "prompt context for implementer")),
    ("lesson", None, ("docker", "postgres"),
     "Docker compose service names are the hostnames: the backend reaches PostgreSQL at db:5432, not localhost, "
     "inside containers.",
     ("ECONNREFUSED 127.0.0.1:5432 in container", "connect to postgres from another container")),
    ("error", None, ("npm", "ci"),
     "npm ci failed with 'lockfile is out of sync': commit package-lock.json together with package.json changes.",
     ("npm ci lockfile out of sync", "install fails in CI after adding a dependency")),
    ("lesson", None, ("lint", "git"),
     "Pre-commit runs eslint --fix and prettier; the agent must run npm run lint before committing or the CI lint "
     "job fails.",
     ("CI lint job failing on formatting", "run linters before commit")),
    ("lesson", None, ("git",),
     "Conventional commit messages are required (feat(module): ..., fix(module): ...); the changelog generator "
     "ignores other messages.",
     ("commit message format", "changelog missing my change")),
    ("error", None, ("ci", "docker"),
     "GitHub Actions job 'test' failed with 'No space left on device' building images; add a docker system prune "
     "step before the build.",
     ("No space left on device in CI", "runner disk full when building docker image")),
    ("decision", None, ("node",),
     "Decision: Node 20 LTS for the backend, enforced with engines in package.json and .nvmrc.",
     ("which node version", "engines field node version mismatch")),
    ("lesson", None, ("security", "config"),
     "Secrets never go to the repo; .env.example lists the variables and the real .env is created from the "
     "password manager.",
     ("where to put API keys", "committed .env file by mistake")),
    ("error", None, ("node", "http"),
     "'ERR_REQUIRE_ESM' when requiring node-fetch v3: use the built-in fetch of Node 20 instead of adding "
     "node-fetch.",
     ("ERR_REQUIRE_ESM node-fetch", "make HTTP requests from backend")),
    ("lesson", None, ("postgres", "operations"),
     "Large SQL data fixes are written as idempotent scripts in sql/fixes/ and run once by the DBA, never as "
     "migrations.",
     ("one-off data correction script", "fix bad data in production table")),
    ("lesson", None, ("postgres", "operations"),
     "pg_dump runs nightly at 02:00 and before each deploy; restore drills are done monthly on the staging server.",
     ("when are database backups taken", "restore database from backup")),
    ("lesson", PYINV, ("sqlalchemy",),
     "pyinventory uses SQLAlchemy 2.0 style select() statements; session.query() is deprecated and raises warnings "
     "that the test suite treats as errors.",
     ("LegacyAPIWarning session.query", "how to write queries in pyinventory")),
    ("error", PYINV, ("pytest", "sqlite"),
     "'sqlite3.OperationalError: no such table: items' in pyinventory tests: call init_db(engine) in the conftest "
     "fixture before using the session.",
     ("no such table items", "tables missing in test database")),
    ("lesson", PYINV, ("units",),
     "pyinventory quantities are integers in the smallest unit (grams); converting to kg happens only in the CLI "
     "formatting layer.",
     ("unit of stock quantities in pyinventory", "kg vs grams rounding")),
    ("lesson", PYINV, ("cli", "click"),
     "pyinventory CLI commands are click groups in pyinventory/cli.py; tests invoke them with "
     "click.testing.CliRunner.",
     ("test a click command", "add a new CLI subcommand")),
    ("decision", PYINV, ("design",),
     "Decision: pyinventory keeps no global state; functions take the session as a keyword argument so tests can "
     "pass an in-memory one.",
     ("how to pass the database session", "avoid global session object")),
    ("lesson", FACTORY, ("retries", "tickets"),
     "After the third failed attempt the agent marks the ticket failed with the last test output and keeps the "
     "branch unpushed for the reviewer to inspect.",
     ("what happens after three failed attempts", "ticket failed status max retries")),
    ("error", FACTORY, ("git", "django"),
     "'UNIQUE constraint failed: tickets_ticket.branch': branch names derive from the ticket id and slug; never "
     "reuse a branch name across retries.",
     ("duplicate key on branch name", "branch name already used by another ticket")),
    ("lesson", FACTORY, ("review", "git"),
     "The diff shown to the reviewer is computed against the merge-base with main, not main's tip, so later "
     "commits on main don't appear as removals.",
     ("review diff shows unrelated deletions", "compare ticket branch with main")),
    ("lesson", BACKEND, ("reportes", "postgres"),
     "Use COALESCE in SUM() queries of reportes; an empty month returned null and the frontend displayed NaN.",
     ("report shows NaN for empty month", "sum returns null when there are no rows")),
    ("error", BACKEND, ("postgres", "validation"),
     "'invalid input syntax for type uuid' from routes like /facturas/:id when :id is not a UUID; validate params "
     "with the uuidParam middleware to return 400.",
     ("invalid input syntax for type uuid", "return 400 for malformed id in URL")),
    ("lesson", BACKEND, ("postgres", "jest"),
     "COUNT(*) results arrive as strings in node-postgres (bigint); convert with Number() before comparing in "
     "tests.",
     ("count returns string instead of number", "expect(total).toBe(3) fails with '3'")),
    ("decision", BACKEND, ("inventario", "compras"),
     "Decision: inventory valuation uses weighted average cost, recomputed on every purchase (compras) entry.",
     ("how is inventory cost calculated", "costo promedio ponderado")),
    ("lesson", BACKEND, ("cron", "docker"),
     "Cron jobs (node-cron) run only in the worker container; enabling them in the API container duplicated the "
     "daily closing (cierre diario).",
     ("daily closing ran twice", "where to schedule recurring jobs")),
    ("lesson", FRONTEND, ("react", "performance"),
     "Tables with more than 200 rows use the VirtualTable component; rendering plain rows froze the ventas history "
     "page.",
     ("ventas history page freezes", "render long lists efficiently")),
    ("error", FRONTEND, ("react",),
     "'Warning: Each child in a list should have a unique key prop' in ProductList: use product.id, not the array "
     "index.",
     ("unique key prop warning", "list items rerender wrongly after sorting")),
    ("lesson", None, ("git", "ci"),
     "Feature branches are named ticket/<id>-<slug>; CI builds preview environments only for branches matching "
     "ticket/*.",
     ("preview environment not created", "branch naming convention")),
    ("error", None, ("git",),
     "'fatal: refusing to merge unrelated histories' when pulling the project template: the agent must clone, not "
     "init + pull.",
     ("refusing to merge unrelated histories", "start a new repo from template")),
    ("lesson", None, ("http", "operations"),
     "Every outbound HTTP call sets an explicit timeout (10 s default); a hung SAT invoice-stamping call blocked "
     "the whole worker queue.",
     ("worker queue stuck on external API call", "default timeout for http requests")),
    ("lesson", FACTORY, ("memory", "tests"),
     "Unit tests of the memory use qdrant-client's QdrantClient(':memory:'); the embedded edge shard is tested "
     "in a temporary folder.",
     ("test memory without qdrant server", "in-memory qdrant for tests")),
    ("error", FACTORY, ("memory", "qdrant"),
     "'Shard is not initialized' from qdrant-edge after close(): open a new shard per operation instead of "
     "reusing a closed handle.",
     ("Shard is not initialized error", "reuse edge shard after closing")),
    ("lesson", FACTORY, ("memory", "locking"),
     "The worker and the web server share the embedded memory index through a file lock; hold it for one "
     "operation only so searches don't wait on imports.",
     ("web search waits for memory import", "sharing the embedded index between processes")),
    ("decision", FACTORY, ("memory", "search"),
     "Decision: hybrid retrieval (dense + BM25 fused with reciprocal rank fusion) because exact identifiers like "
     "RLSContextManager were missed by embeddings alone.",
     ("why combine bm25 with vectors", "exact class names not found by semantic search")),
    ("error", PYINV, ("mypy", "refactor"),
     "mypy error 'Item has no attribute sku' after renaming the field to code: update the dataclass and the CLI, "
     "which still referenced sku.",
     ("has no attribute sku", "rename a model field in pyinventory")),
    ("lesson", PYINV, ("csv", "performance"),
     "CSV import in pyinventory streams rows with csv.DictReader and commits every 1000 rows; loading the whole "
     "file used 2 GB for big catalogs.",
     ("csv import uses too much memory", "import large catalog file")),
    ("lesson", BACKEND, ("auth", "jest"),
     "Login is limited to 5 attempts per minute per IP with express-rate-limit; tests must reset the limiter store "
     "between cases.",
     ("too many requests 429 in login tests", "rate limit on login endpoint")),
    ("error", BACKEND, ("jest", "express"),
     "'Error: listen EADDRINUSE :::3000' in jest: the app module must not call listen(); tests import app from "
     "app.js and server.js does the listening.",
     ("EADDRINUSE port 3000 in tests", "separate express app from server")),
    ("lesson", BACKEND, ("contabilidad", "facturas"),
     "Facturas must be stamped (timbrado) by the PAC before they are sent to the customer; the stamping call is "
     "retried 3 times with exponential backoff.",
     ("send invoice to customer before stamping", "retry policy for the PAC timbrado service")),
    ("lesson", FACTORY, ("review", "tickets"),
     "Reviewer comments requesting changes create a follow-up ticket linked to the original instead of reopening "
     "it, to keep the attempts history clean.",
     ("reviewer requests changes on a ticket", "reopen a completed ticket")),
    ("lesson", None, ("postgres", "dates"),
     "Store timestamps as timestamptz in UTC everywhere in the database and convert only in the presentation "
     "layer.",
     ("timestamp without time zone problems", "store dates in which timezone")),
]

MODULES = {
    BACKEND: ["contabilidad", "pos", "inventario", "nomina", "compras", "clientes", "proveedores", "reportes",
              "auth", "factory", "bancos", "tesoreria"],
    FRONTEND: ["InvoiceTable", "SalesDashboard", "ProductForm", "CustomerList", "ReportsPage", "LoginPage",
               "StockView", "PayrollScreen"],
    FACTORY: ["tickets", "agent", "memory", "review", "worker", "api", "edits", "git"],
    PYINV: ["cli", "models", "storage", "importer", "reports", "pricing"],
}
FEATURES = [
    "pagination of the list endpoint", "CSV export", "PDF receipt", "filter by date range", "bulk update",
    "soft delete", "audit trail", "search by name", "monthly summary", "currency conversion", "discount rules",
    "stock alerts", "tenant settings page", "role based permissions", "email notification", "retry with backoff",
    "cached totals", "webhook callback", "import from spreadsheet", "barcode lookup", "tax breakdown per line",
    "payment reconciliation", "credit notes", "user invitations", "password reset", "status history",
]
VERBS = ["Add", "Fix", "Refactor", "Speed up", "Validate", "Document", "Remove", "Test", "Paginate", "Secure"]
ERRORS = [
    "AssertionError: expected 200, got 500", "TypeError: x.map is not a function",
    "Timeout of 5000ms exceeded", "KeyError: 'tenant'", "duplicate key value violates unique constraint",
    "relation does not exist", "ReferenceError: total is not defined", "expected 3 rows, got 0",
    "SyntaxError: Unexpected token in JSON", "permission denied for table ventas",
    "ValidationError: fecha is required", "ECONNRESET while calling the PAC", "IntegrityError: FOREIGN KEY failed",
    "snapshot does not match", "ModuleNotFoundError: No module named 'requests'", "AttributeError: 'NoneType'",
    "expected status 403 but received 200", "jest did not exit one second after the test run",
    "ImportError: cannot import name 'transition'", "psql: FATAL too many connections",
]
PRACTICES = [
    "keep controllers thin and move logic to services", "add a regression test before the fix",
    "prefer explicit column lists over SELECT *", "log the tenant id with every error",
    "use fixtures instead of shared seed data", "run the linter before committing", "name tests after the behaviour",
    "return early on invalid input", "pin dependency versions", "avoid sleeping in tests",
    "close database connections in teardown", "keep migrations small and reversible",
    "read configuration once at startup", "check the HTTP status before parsing the body",
    "set a timeout on every external call", "limit list endpoints to 100 rows",
]
SITUATIONS = [
    "a test depends on the current date", "a query runs once per row", "two workers update the same ticket",
    "the model returns an empty edit", "a migration touches a large table", "the API returns a 500",
    "a tenant has no data yet", "an import file has blank lines", "the branch is behind main",
    "the review finds style issues", "a report spans several months", "the worker restarts mid ticket",
    "the same error repeats on every attempt", "a dependency publishes a breaking release",
]
REASONS = [
    "it keeps tickets small", "the reviewer asked for it", "it halves the test time", "it avoids cross-tenant leaks",
    "the legacy system expects it", "it makes retries idempotent", "it simplifies the prompts",
    "accounting requires it", "it removed a class of flaky tests", "it matches the API conventions",
]
TEST_FILES = [
    "test/facturas.test.js", "test/ventas.test.js", "test/inventario.test.js", "tickets/tests/test_api.py",
    "agent/tests/test_edits.py", "memory/tests/test_index.py", "tests/test_cli.py", "src/__tests__/Invoice.test.tsx",
]
KINDS_BY_TEMPLATE = {"ticket": "context", "attempt": "error", "practice": "lesson", "decision": "decision",
                     "pattern": "pattern"}


def item_id(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, key))


def _fact_items() -> list[CorpusItem]:
    return [
        CorpusItem(id=item_id(f"fact-{n}"), text=text, kind=kind, project=project, tags=tags)
        for n, (kind, project, tags, text, _queries) in enumerate(FACTS)
    ]


def labelled_queries() -> list[LabelledQuery]:
    return [
        LabelledQuery(text=query, relevant=frozenset({item_id(f"fact-{n}")}))
        for n, (*_fields, queries) in enumerate(FACTS)
        for query in queries
    ]


def _distractor_text(template: str, rng: random.Random, project: str) -> str:
    module = rng.choice(MODULES[project])
    ticket = f"T-{rng.randint(100, 9999)}"
    if template == "ticket":
        return (f"Ticket {ticket}: {rng.choice(VERBS)} {rng.choice(FEATURES)} in {module}; tests required: "
                f"{rng.choice(FEATURES)} returns 200, 404 when missing, 403 for another tenant.")
    if template == "attempt":
        return (f"Attempt {rng.randint(1, 3)} for ticket {ticket} ({module}) failed: {rng.choice(ERRORS)} in "
                f"{rng.choice(TEST_FILES)} ({rng.randint(1, 9)} failed, {rng.randint(10, 300)} passed).")
    if template == "practice":
        return f"In {module}, {rng.choice(PRACTICES)} when {rng.choice(SITUATIONS)}."
    if template == "decision":
        return (f"Decision: {module} will {rng.choice(PRACTICES)} for {rng.choice(FEATURES)} because "
                f"{rng.choice(REASONS)}.")
    return (f"Pattern for {rng.choice(FEATURES)} in {module}: {rng.choice(PRACTICES)}; seen when "
            f"{rng.choice(SITUATIONS)} ({rng.choice(ERRORS)}).")


def _distractors(count: int, rng: random.Random) -> list[CorpusItem]:
    projects = [BACKEND, BACKEND, FRONTEND, FACTORY, FACTORY, PYINV]
    items = []
    for n in range(count):
        template = rng.choice(list(KINDS_BY_TEMPLATE))
        project = rng.choice(projects)
        items.append(CorpusItem(
            id=item_id(f"distractor-{n}"),
            text=_distractor_text(template, rng, project),
            kind=KINDS_BY_TEMPLATE[template],
            project=project if rng.random() > 0.1 else None,
            tags=(template, rng.choice(MODULES[project]).lower()),
        ))
    return items


def build_corpus(*, total_items: int = 10_000, seed: int = 7) -> tuple[list[CorpusItem], list[LabelledQuery]]:
    """All items (facts first, then distractors up to total_items) and the labelled queries."""
    facts = _fact_items()
    if total_items < len(facts):
        raise ValueError(f"total_items must be at least {len(facts)} (the labelled facts), got {total_items}")
    rng = random.Random(seed)
    return facts + _distractors(total_items - len(facts), rng), labelled_queries()

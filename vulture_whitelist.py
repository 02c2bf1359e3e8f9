"""What vulture (run by tests/test_architecture.py at 60 % confidence) must not call dead, each with why.

vulture finds names nobody uses in Python; Django, DRF, django-filter, django-q2, the MCP SDK and
http.server use many by name, from a string or from a class attribute they read. Each line below names one such
name (vulture matches names, not places: one line covers every class that sets it) and says who uses it. Anything
else vulture reports is dead: delete it, or add it here with its reason.
"""
from vulture.whitelist_utils import Whitelist

_ = Whitelist()

# Django: apps, settings, URLs, middleware, the database backend ------------------------------------------------
_.AgentConfig  # AppConfig, found by Django in the app's apps.py
_.FactoryBenchConfig  # AppConfig
_.FactoryMcpConfig  # AppConfig
_.MemoryConfig  # AppConfig
_.MetricsConfig  # AppConfig
_.ReviewConfig  # AppConfig
_.TicketsConfig  # AppConfig
_.WebhooksConfig  # AppConfig
_.FactoryAdminConfig  # AppConfig replacing django.contrib.admin in INSTALLED_APPS
_.default_site  # AdminConfig.default_site: the dotted path of FactoryAdminSite
_.FactoryAdminSite  # named by FactoryAdminConfig.default_site
_.site_header  # AdminSite attribute read by the admin templates
_.site_title  # AdminSite attribute
_.index_title  # AdminSite attribute
_.ALLOWED_HOSTS  # settings.py: every upper-case name there is a setting Django or an app reads
_.CSRF_TRUSTED_ORIGINS  # setting
_.CSRF_COOKIE_SECURE  # setting
_.SESSION_COOKIE_SECURE  # setting
_.SECURE_SSL_REDIRECT  # setting
_.SECURE_HSTS_SECONDS  # setting
_.SECURE_HSTS_INCLUDE_SUBDOMAINS  # setting
_.SECURE_HSTS_PRELOAD  # setting
_.SECURE_PROXY_SSL_HEADER  # setting
_.SILENCED_SYSTEM_CHECKS  # setting
_.INSTALLED_APPS  # setting
_.MIDDLEWARE  # setting
_.ROOT_URLCONF  # setting (bench/ overrides it for its own URL set)
_.WSGI_APPLICATION  # setting
_.TEMPLATES  # setting
_.DEFAULT_AUTO_FIELD  # setting
_.AUTH_PASSWORD_VALIDATORS  # setting
_.LANGUAGE_CODE  # setting
_.USE_I18N  # setting
_.USE_TZ  # setting
_.STATIC_ROOT  # setting
_.STATICFILES_DIRS  # setting
_.STORAGES  # setting
_.WHITENOISE_USE_FINDERS  # whitenoise's setting
_.LOGIN_URL  # setting
_.REST_FRAMEWORK  # DRF's settings
_.SPECTACULAR_SETTINGS  # drf-spectacular's settings
_.LOGGING  # setting (names factory_site.logfilters.QueueStateChanges by its dotted path)
_.handler404  # urls.py: Django's hook for the 404 view
_.RefuseNulInQuery  # middleware, named in MIDDLEWARE
_.DatabaseUnavailableIs503  # middleware, named in MIDDLEWARE
_.process_exception  # middleware hook Django calls
_.in_atomic_block  # factory_site/db/base.py: Django's connection state, reset when the pool hands a connection back
_.needs_rollback  # Django connection state
_.savepoint_ids  # Django connection state
_.run_on_commit  # Django connection state
_.closed_in_transaction  # Django connection state
_.Command  # management command class, found by name in management/commands/
_.help  # management command attribute (manage.py help)
_.add_arguments  # management command hook
_.requires_system_checks  # management command attribute
_.has_changed  # form field hook the admin's form calls (tickets/admin.py)

# Django models: Meta options, a field written by keyword only, choices read through .choices/.values ---------------
_.verbose_name_plural  # Meta option (and InlineModelAdmin's)
_.constraints  # Meta option
_.indexes  # Meta option
_.last_used  # ModelProbe field, written with .update(last_used=...)
_.requested_at  # ModelTurnWait field, read and written in agent/worker/turns.py's SQL
_.seen_at  # ModelTurnWait field, read and written in agent/worker/turns.py's SQL
_.PATTERN  # MemoryItem.Kind choice
_.DECISION  # MemoryItem.Kind choice
_.SOLUTION  # MemoryItem.Kind choice
_.CONTEXT  # MemoryItem.Kind choice
_.INIT  # MemoryItem.Source choice
_.WHOLE  # edit format choice
_.DIFF  # edit format choice
_.STARTED  # webhook event choice
_.ATTEMPT_FINISHED  # webhook event choice
_.REQUEUED  # webhook event choice
_._prefetched_objects_cache  # tickets/selectors.py fills Django's prefetch cache itself
_._result_cache  # Django QuerySet internals set by tickets/selectors.py
_._prefetch_done  # Django QuerySet internals set by tickets/selectors.py

# The Django admin: options, hooks, and methods named in list_display/readonly_fields/actions as strings --------------
_.AgentHealthAdmin  # registered with @admin.register
_.ModelTurnWaitAdmin  # registered with @admin.register
_.MemoryItemAdmin  # registered with @admin.register
_.ProjectAdmin  # registered with @admin.register
_.TicketAdmin  # registered with @admin.register
_.TicketEventAdmin  # registered with @admin.register
_.WebhookAdmin  # registered with @admin.register
_.WebhookDeliveryAdmin  # registered with @admin.register
_.list_display  # ModelAdmin option
_.list_filter  # ModelAdmin option
_.search_fields  # ModelAdmin option
_.search_help_text  # ModelAdmin option
_.list_select_related  # ModelAdmin option
_.date_hierarchy  # ModelAdmin option
_.autocomplete_fields  # ModelAdmin option
_.inlines  # ModelAdmin option
_.actions  # ModelAdmin option
_.fieldsets  # ModelAdmin option
_.can_delete  # InlineModelAdmin option
_.show_change_link  # InlineModelAdmin option
_.has_add_permission  # ModelAdmin hook
_.has_change_permission  # ModelAdmin hook
_.has_delete_permission  # ModelAdmin hook
_.get_search_results  # ModelAdmin hook
_.delete_model  # ModelAdmin hook
_.delete_queryset  # ModelAdmin hook
_.save_model  # ModelAdmin hook
_.save_related  # ModelAdmin hook
_.short_text  # admin column or field, named as a string in list_display or fields
_.timing  # admin column or field, named as a string in list_display or fields
_.edit_summary  # admin column or field, named as a string in list_display or fields
_.feedback_text  # admin column or field, named as a string in list_display or fields
_.prompt_text  # admin column or field, named as a string in list_display or fields
_.age  # admin column or field, named as a string in list_display or fields
_.review_link  # admin column or field, named as a string in list_display or fields
_.tests_resultado_pretty  # admin column or field, named as a string in list_display or fields
_.codigo_generado_pretty  # admin column or field, named as a string in list_display or fields
_.event_list  # admin column or field, named as a string in list_display or fields
_.delivery_log  # admin column or field, named as a string in list_display or fields
_.short_error  # admin column or field, named as a string in list_display or fields
_.payload_pretty  # admin column or field, named as a string in list_display or fields
_.retry_tickets  # admin action, named in actions
_.cancel_tickets  # admin action, named in actions
_.send_again  # admin action, named in actions

# DRF and django-filter: class attributes and hooks they read ----------------------------------------------------
_.permission_classes  # APIView attribute
_.filter_backends  # APIView attribute
_.has_permission  # permission class hook
_.default_code  # APIException attribute
_.default_detail  # APIException attribute
_.media_type  # parser attribute
_.page_size_query_description  # pagination attribute shown in the schema
_.read_only_fields  # serializer Meta option
_.validate  # serializer hook
_.validate_project  # serializer hook validate_<field>
_.validate_ticket  # serializer hook validate_<field>
_.validate_depende_de  # serializer hook validate_<field>
_.get_depende_de  # SerializerMethodField's get_<field>
_.get_codigo_generado  # SerializerMethodField's get_<field>
_.get_links  # SerializerMethodField's get_<field>
_.links_of  # named as a string in tickets/serializers.py's planned representation
_.TokenWithRolesAuthentication  # named in REST_FRAMEWORK's DEFAULT_AUTHENTICATION_CLASSES
_.authenticate_credentials  # TokenAuthentication hook
_.DocsPermission  # named in SPECTACULAR_SETTINGS' SERVE_PERMISSIONS
_.FactoryAutoSchema  # named in REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS
_.add_shared_errors  # named in SPECTACULAR_SETTINGS' POSTPROCESSING_HOOKS
_.generator  # argument drf-spectacular passes to a postprocessing hook by keyword
_.field_class  # django-filter Filter attribute
_.prioridad_min  # filter, a query parameter of GET /tickets
_.prioridad_max  # filter
_.creado_desde  # filter
_.creado_hasta  # filter
_.search_text  # filter method, named as a string (method="search_text")
_.has_tag  # filter method, named as a string (method="has_tag")
_._form_class  # tickets/selectors.py caches django-filter's form class per class, read back through __dict__
_._bound_plan  # tickets/representation.py's per-instance cache, read back through __dict__
_._class_plan  # tickets/representation.py's per-class cache, read back through __dict__
_.StrPromise  # imported under TYPE_CHECKING for a string annotation in memory/serializers.py

# Templates: attributes and filters only a template reads -------------------------------------------------------
_.lazy_url  # DiffFile attribute read by templates/diff/_file.html
_.symlink_target  # DiffFile attribute read by templates/diff/_file.html
_.output_tail  # a stored test result's key (lib/testschema.SuiteResult), read by the review page's template
_.full_seconds  # a stored test result's key (SuiteResult), written by the scoped run
_.required_changed  # a stored test result's key (SuiteResult), read by the review page's template
_.is_bound  # django-filter FilterSet attribute, read by django-filter (tickets.selectors' own __init__)
_.form_prefix  # django-filter FilterSet attribute, read by its form
_.old_mode  # a git diff record's key (TypedDict), kept whole as git gives it
_.new_mode  # a git diff record's key (TypedDict)
_.pct  # template filter (@register.filter), used by the metrics page

# Queues, signals, process hooks ----------------------------------------------------------------------------------
_.refresh_baseline  # django-q2 task, queued by its dotted path (agent.worker.queueing.BASELINE_TASK)
_.sender  # signal receivers take it by keyword: Django and django-q2 pass it
_.proc_name  # django-q2's post_spawn argument
_.signum  # signal handler signature
_.create_tickets  # MCP tool (@mcp.tool), called by the architect by name
_.get_ticket  # MCP tool
_.list_tickets  # MCP tool
_.ticket_diff  # MCP tool
_.memory_search  # MCP tool
_.memory_store  # MCP tool

# http.server and socketserver: handlers the tests' and benchmarks' servers define ---------------------------------
_.do_GET  # BaseHTTPRequestHandler dispatch by method name
_.do_POST  # BaseHTTPRequestHandler
_.do_HEAD  # BaseHTTPRequestHandler
_.do_DELETE  # BaseHTTPRequestHandler
_.log_message  # BaseHTTPRequestHandler hook (silenced)
_.protocol_version  # BaseHTTPRequestHandler attribute
_.server_version  # BaseHTTPRequestHandler attribute
_.close_connection  # BaseHTTPRequestHandler attribute
_.daemon_threads  # ThreadingMixIn attribute
_.RequestHandlerClass  # socketserver attribute
_._root  # tests/fake_ollama.py: route handlers, named as strings in its route table
_._version  # route handler
_._tags  # route handler
_._show  # route handler
_._chat  # route handler
_._generate  # route handler

# pytest: module marks and fixtures, used by name ----------------------------------------------------------------
_.pytestmark  # module-level marks pytest reads
_.factory  # fixture (metrics/tests/test_metrics.py), requested by name for its side effect
_.two_hosts  # fixture (metrics/tests/test_model_busy.py), requested by name for its side effect
_.one_place  # fixture (agent/tests/worker/test_model_turns.py), requested by name for its setting
_.memory_down  # fixture (memory/tests/test_language.py), requested by name for its side effect
_.webhook_settings  # autouse fixture (webhooks/tests/test_webhooks.py)

_.transactional_db  # pytest-django fixture, requested by name

# Dead, kept only while another branch edits the file (delete them there) ------------------------------------------

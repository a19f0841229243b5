# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AWX pieces checked without AWX and without a container engine.

1. execution-environment.yml: `ansible-builder create` makes a build context; its galaxy step (install the collection
   tarball from `_build/`) and its introspection step (the collection's meta/execution-environment.yml) are run here,
   offline, exactly as the Containerfile would run them.
2. examples/awx/: every survey spec passes AWX's own survey checks, asks only for variables the playbooks (or the
   template's extra vars) read, and every job template of configure.yml names a project playbook that imports an
   existing playbook of the collection; configure.yml uses only options the awx.awx modules have.
3. examples/systemd/: `systemd-analyze verify` on the units (a Python check of the keys when it is not installed,
   a failure under CI), and no secret in a unit or the env file example.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = sys.argv[1]
PY = sys.executable
BIN = os.path.dirname(PY)
STARTED = time.monotonic()


def collection_root() -> str:
    first = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)[0]
    staged = os.path.join(first, "ansible_collections", "fleetops", "release")
    if first and os.path.isfile(os.path.join(staged, "execution-environment.yml")):
        return staged
    return os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))


ROOT = collection_root()
CHECKS = []


def check(condition: bool, what: str, detail: str = "") -> None:
    if not condition:
        sys.exit("FAILED: %s\n%s" % (what, str(detail)[-4000:]))
    CHECKS.append(what)


def run(cmd: list[str], cwd: str | None = None, env: dict | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120)
    check(proc.returncode == 0, "%s exits 0" % " ".join(cmd[:3]), proc.stdout + proc.stderr)
    return proc.stdout + proc.stderr


def tool(name: str) -> str:
    path = os.path.join(BIN, name)
    return path if os.path.exists(path) else (shutil.which(name) or name)


def read(*parts: str) -> str:
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return handle.read()


class Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """YAML with Ansible's !unsafe (a plain string here)."""


Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def pins() -> dict[str, str]:
    found = {}
    for line in read("requirements", "test.txt").splitlines():
        name, _sep, version = line.partition("==")
        found[name.strip().lower()] = version.strip()
    return found


# --- 1. the execution environment -------------------------------------------------------------------------------

def execution_environment() -> None:
    definition = yaml.safe_load(read("execution-environment.yml"))
    galaxy = yaml.safe_load(read("galaxy.yml"))
    version = galaxy["version"]
    tarball = "fleetops-release-%s.tar.gz" % version
    check(definition.get("version") == 3, "execution-environment.yml uses ansible-builder's schema version 3")
    deps = definition["dependencies"]
    pinned = pins()
    core = deps["ansible_core"]["package_pip"]
    runner = deps["ansible_runner"]["package_pip"]
    check(core == "ansible-core==%s" % pinned["ansible-core"] and core.startswith("ansible-core==2.19."),
          "the EE pins ansible-core 2.19 as the tests use it (%s)" % core)
    check(runner == "ansible-runner==%s" % pinned["ansible-runner"], "the EE pins the tested ansible-runner (%s)" % runner)
    wanted = ["collections/" + tarball]
    check([c["name"] for c in deps["galaxy"]["collections"]] == wanted,
          "the EE installs the tarball of galaxy.yml's version %s" % version, json.dumps(deps["galaxy"]))

    # What `ansible-galaxy collection build` makes, where the definition's additional_build_files looks for it.
    definition_dir = os.path.join(WORK, "ee")
    os.makedirs(os.path.join(definition_dir, ".tmp", "ee"))
    shutil.copy(os.path.join(ROOT, "execution-environment.yml"), definition_dir)
    run([tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", os.path.join(definition_dir, ".tmp", "ee"), ROOT])
    check(os.path.isfile(os.path.join(definition_dir, ".tmp", "ee", tarball)), "ansible-galaxy built %s" % tarball)

    context = os.path.join(WORK, "context")
    out = run([tool("ansible-builder"), "create", "--file", os.path.join(definition_dir, "execution-environment.yml"),
               "--context", context, "--output-filename", "Containerfile"])
    containerfile = os.path.join(context, "Containerfile")
    check(os.path.isfile(containerfile), "ansible-builder create wrote a Containerfile", out)
    with open(containerfile, encoding="utf-8") as handle:
        text = handle.read()
    build = os.path.join(context, "_build")
    check('ARG EE_BASE_IMAGE="%s"' % definition["images"]["base_image"]["name"] in text, "the Containerfile starts from the base image")
    check('ARG ANSIBLE_INSTALL_REFS="%s %s"' % (core, runner) in text, "the Containerfile installs the pinned ansible-core and ansible-runner", text[:800])
    check(re.search(r"^RUN .*ansible-galaxy collection install .*-r requirements\.yml", text, re.M) is not None
          and "COPY _build /build" in text, "the galaxy stage installs the collection from the build context", text)
    check("COPY --from=galaxy /usr/share/ansible /usr/share/ansible" in text, "the final image gets the installed collections")
    check(re.search(r"introspect\.py introspect --user-pip=requirements\.txt", text) is not None,
          "the builder stage introspects the installed collections with the EE's python requirements")
    check(os.path.isfile(os.path.join(build, "collections", tarball)), "the collection tarball is in _build/collections/")
    with open(os.path.join(build, "requirements.txt"), encoding="utf-8") as handle:
        python = handle.read().split()
    check("boto3==%s" % pinned["boto3"] in python and "botocore==%s" % pinned["botocore"] in python,
          "_build/requirements.txt pins boto3 and botocore as tested", python)
    with open(os.path.join(build, "requirements.yml"), encoding="utf-8") as handle:
        check(yaml.safe_load(handle) == {"collections": [{"name": wanted[0], "type": "file"}]}, "_build/requirements.yml names the tarball")

    # The galaxy stage, as the Containerfile runs it (WORKDIR /build = _build), but offline into a temporary path.
    installed = os.path.join(WORK, "installed")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=installed, ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1")
    run([tool("ansible-galaxy"), "collection", "install", "--offline", "-r", "requirements.yml", "--collections-path", installed],
        cwd=build, env=env)
    tree = os.path.join(installed, "ansible_collections", "fleetops", "release")
    for path in ("playbooks/deploy.yml", "playbooks/status.yml", "plugins/callback/audit.py", "plugins/callback/recap_alert.py",
                 "meta/execution-environment.yml", "meta/ee-requirements.txt"):
        check(os.path.isfile(os.path.join(tree, path)), "the installed collection has %s" % path)
    # The builder stage's introspection: the collection's own requirements (meta/execution-environment.yml) and the EE's.
    out = run([PY, os.path.join(build, "scripts", "introspect.py"), "introspect", installed, "--user-pip", os.path.join(build, "requirements.txt")])
    found = yaml.safe_load(out[out.index("---"):])
    lines = [line.split("#")[0].strip() + " #" + line.split("#")[1] if "#" in line else line for line in found["python"]]
    check(any(re.match(r"boto3>=1\.36 +# from collection fleetops\.release", line) for line in lines)
          and any(re.match(r"botocore>=1\.36 +# from collection fleetops\.release", line) for line in lines),
          "introspection finds boto3 and botocore in the collection's meta/execution-environment.yml", out)
    check(found["system"] == [], "the collection needs no system packages")
    print("execution environment: build context ok, collection %s installs offline, introspection finds its boto3/botocore" % version)


# --- 2. surveys and job templates ---------------------------------------------------------------------------------

SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str, "integer": int, "float": (int, float)}

# Options of the awx.awx modules configure.yml uses (awx.awx 24, argument_spec of each module).
AWX_OPTIONS = {
    "credential_type": "name new_name description kind inputs injectors state",
    "credential": "name new_name copy_from description organization credential_type inputs update_secrets user team state",
    "execution_environment": "name new_name image description organization credential state pull",
    "project": "name new_name copy_from description scm_type scm_url local_path scm_branch scm_refspec credential scm_clean "
               "scm_delete_on_update scm_track_submodules scm_update_on_launch scm_update_cache_timeout allow_override timeout "
               "default_environment custom_virtualenv organization state wait update_project interval",
    "inventory": "name new_name copy_from description organization variables kind host_filter instance_groups state",
    "inventory_source": "name new_name description inventory source source_path source_vars enabled_var enabled_value host_filter "
                        "limit credential execution_environment organization overwrite overwrite_vars timeout verbosity "
                        "update_on_launch update_cache_timeout source_project scm_branch state",
    "job_template": "name new_name copy_from description job_type inventory organization project playbook credentials "
                    "execution_environment instance_groups forks limit verbosity extra_vars job_tags force_handlers skip_tags "
                    "start_at_task diff_mode use_fact_cache host_config_key ask_scm_branch_on_launch ask_diff_mode_on_launch "
                    "ask_variables_on_launch ask_limit_on_launch ask_tags_on_launch ask_skip_tags_on_launch ask_job_type_on_launch "
                    "ask_verbosity_on_launch ask_inventory_on_launch ask_credential_on_launch ask_execution_environment_on_launch "
                    "ask_forks_on_launch ask_timeout_on_launch survey_enabled survey_spec become_enabled allow_simultaneous timeout "
                    "job_slice_count scm_branch labels state",
    "workflow_job_template": "name new_name copy_from description extra_vars organization survey_spec survey_enabled allow_simultaneous "
                             "ask_variables_on_launch inventory limit ask_inventory_on_launch ask_limit_on_launch workflow_nodes "
                             "destroy_current_nodes state",
    "schedule": "rrule name new_name description extra_data inventory credentials limit job_type verbosity unified_job_template "
                "organization enabled state",
}


def check_survey(name: str, spec: dict) -> list[str]:
    where = "survey %s" % name
    check(isinstance(spec.get("name"), str) and isinstance(spec.get("description"), str), "%s: name and description are strings" % where)
    check(isinstance(spec.get("spec"), list) and len(spec["spec"]) > 0, "%s: spec is a non-empty list" % where)
    seen = []
    for idx, item in enumerate(spec["spec"]):
        here = "%s question %d" % (where, idx)
        for key in ("type", "question_name", "variable"):
            check(isinstance(item.get(key), str) and item[key], "%s: %s is a string" % (here, key))
        check(isinstance(item.get("required"), bool), "%s: required is a boolean" % here)
        check(isinstance(item.get("question_description", ""), str), "%s: question_description is a string" % here)
        var = item["variable"]
        check(re.fullmatch(r"[a-z_][a-z0-9_]*", var) is not None and not var.startswith(("awx_", "tower_", "ansible_")),
              "%s: %s is a variable name AWX accepts" % (here, var))
        check(var not in seen, "%s: %s is asked once" % (here, var))
        seen.append(var)
        qtype = item["type"]
        check(qtype in SURVEY_TYPES, "%s: type %s is one of AWX's" % (here, qtype))
        for key in ("min", "max"):
            check(item.get(key) is None or (isinstance(item[key], int) and not isinstance(item[key], bool)), "%s: %s is an integer" % (here, key))
        default = item.get("default", "")
        if default != "":
            check(isinstance(default, SURVEY_TYPES[qtype]) and not isinstance(default, bool), "%s: default %r fits type %s" % (here, default, qtype))
        if qtype in ("integer", "float") and default != "":
            check((item.get("min") is None or default >= item["min"]) and (item.get("max") is None or default <= item["max"]),
                  "%s: default %r within min and max" % (here, default))
        if qtype in ("text", "textarea", "password") and isinstance(default, str) and item.get("max") is not None:
            check(len(default) <= item["max"], "%s: default fits max length" % here)
        if qtype in ("multiplechoice", "multiselect"):
            choices = item.get("choices")
            choices = choices.splitlines() if isinstance(choices, str) else choices
            check(isinstance(choices, list) and len(choices) > 0 and all(isinstance(c, str) and c for c in choices)
                  and len(set(choices)) == len(choices), "%s: choices are distinct strings" % here)
            defaults = [d for d in (default.splitlines() if isinstance(default, str) else default) if d.strip()]
            check(all(d in choices for d in defaults), "%s: default %r is among the choices %r" % (here, default, choices))
            if qtype == "multiplechoice":
                check(len(defaults) <= 1, "%s: one default for a single choice" % here)
        if item["required"] and qtype not in ("multiselect",):
            check(default != "" or qtype in ("text", "textarea", "password"), "%s: a required choice or number has a default" % here)
    return seen


def playbook_texts(name: str, seen: set | None = None) -> str:
    """The playbook of the collection and everything of the collection it uses: playbooks it imports, roles."""
    seen = seen if seen is not None else set()
    if name in seen:
        return ""
    seen.add(name)
    text = read("playbooks", name + ".yml")
    parts = [text]
    refs = re.findall(r"fleetops\.release\.([a-z_]+)", text) + re.findall(r"import_playbook:\s*([a-z_]+)\.ya?ml", text)
    for ref in sorted(set(refs)):
        if os.path.isfile(os.path.join(ROOT, "playbooks", ref + ".yml")):
            parts.append(playbook_texts(ref, seen))
        role = os.path.join(ROOT, "roles", ref)
        if os.path.isdir(role):
            for base, _dirs, files in os.walk(role):
                for file in sorted(files):
                    with open(os.path.join(base, file), encoding="utf-8") as handle:
                        parts.append(handle.read())
    return "\n".join(parts)


def callback_texts() -> str:
    """The callbacks the project's ansible.cfg enables read the release variables too (project, environment)."""
    parts = []
    for folder in ("plugins/callback", "plugins/plugin_utils"):
        for file in sorted(os.listdir(os.path.join(ROOT, folder))):
            if file.endswith(".py"):
                parts.append(read(folder, file))
    return "\n".join(parts)


def awx_examples() -> None:
    awx = os.path.join(ROOT, "examples", "awx")
    with open(os.path.join(awx, "configure.yml"), encoding="utf-8") as handle:
        plays = yaml.load(handle, Loader=Loader)
    config = plays[0]["vars"]
    with open(os.path.join(awx, "tasks", "awx_objects.yml"), encoding="utf-8") as handle:
        tasks = yaml.load(handle, Loader=Loader)
    check(any("awx_objects.yml" in json.dumps(t) for t in plays[0]["tasks"]), "configure.yml includes tasks/awx_objects.yml")

    # Every task uses an awx.awx module with options that module has.
    used = {}
    for task in tasks:
        modules = [k for k in task if k.startswith("awx.awx.")]
        check(len(modules) == 1, "task %r uses one awx.awx module" % task.get("name"))
        short = modules[0].split(".")[-1]
        check(short in AWX_OPTIONS, "awx.awx.%s is a module configure.yml may use" % short)
        unknown = sorted(set(task[modules[0]]) - set(AWX_OPTIONS[short].split()))
        check(not unknown, "awx.awx.%s in %r: options %s exist" % (short, task.get("name"), unknown))
        used.setdefault(short, []).append(task)
    for short in ("credential_type", "job_template", "workflow_job_template", "schedule", "inventory_source", "execution_environment"):
        check(short in used, "configure.yml creates %s objects" % short)

    # Credential types: AWX refuses ANSIBLE_* in env injectors; the webhook URL only as a file (docs/security.md).
    for task in used["credential_type"]:
        injectors = task["awx.awx.credential_type"]["injectors"]
        check(not any(k.startswith("ANSIBLE_") for k in injectors.get("env", {})), "credential types inject no ANSIBLE_* variable")
        secret_fields = [f["id"] for f in task["awx.awx.credential_type"]["inputs"]["fields"] if f.get("secret")]
        for field in secret_fields:
            check(not any(("{{ %s }}" % field) in str(v) for v in injectors.get("extra_vars", {}).values()),
                  "secret %s never becomes an extra var (-vvvv and the job's artifacts would show it)" % field)
    slack = [t["awx.awx.credential_type"] for t in used["credential_type"] if "slack" in t["awx.awx.credential_type"]["name"].lower()]
    check(len(slack) == 1 and slack[0]["injectors"]["file"] == {"template.slack": "{{ slack_webhook_url }}"}
          and slack[0]["injectors"]["env"] == {"FLEETOPS_SLACK_WEBHOOK_URL_FILE": "{{ tower.filename.slack }}"},
          "the Slack credential type injects the URL as a file, as docs/security.md says")
    for task in used["credential"]:
        check(task.get("no_log") is True, "credential task %r has no_log" % task["name"])

    callbacks = callback_texts()
    common = config["awx_common_vars"]
    release_vars = config.get("awx_release_vars", {})
    templates = {}
    for template in config["awx_job_templates"]:
        name = template["name"]
        wrapper = os.path.join(awx, "project", template["playbook"])
        check(os.path.isfile(wrapper), "template %s: project playbook %s exists" % (name, template["playbook"]))
        with open(wrapper, encoding="utf-8") as handle:
            imported = [p["ansible.builtin.import_playbook"] for p in yaml.safe_load(handle)]
        check(len(imported) == 1 and imported[0].startswith("fleetops.release."),
              "template %s: %s imports a collection playbook" % (name, template["playbook"]))
        playbook = imported[0].split(".")[-1]
        check(os.path.isfile(os.path.join(ROOT, "playbooks", playbook + ".yml")), "template %s: playbooks/%s.yml exists" % (name, playbook))
        extra = dict(common)
        extra_vars = template["extra_vars"]
        if isinstance(extra_vars, str):
            check("awx_release_vars" in extra_vars, "template %s: templated extra vars come from awx_release_vars" % name)
            extra.update(release_vars)
            extra.update(yaml.safe_load(extra_vars.split("combine(", 1)[1].rsplit(")", 1)[0]) if "combine(" in extra_vars else {})
        else:
            extra.update(extra_vars)
        for key in ("forks", "timeout"):
            check(isinstance(template[key], int) and template[key] > 0, "template %s: %s is set" % (name, key))
        with open(os.path.join(awx, "surveys", template["survey"]), encoding="utf-8") as handle:
            spec = json.load(handle)
        variables = check_survey(template["survey"], spec)
        texts = playbook_texts(playbook)
        extra_text = json.dumps(extra)
        for var in variables:
            pattern = r"\b%s\b" % re.escape(var)
            read_by = [w for w, t in (("playbook", texts), ("template extra vars", extra_text), ("callbacks", callbacks)) if re.search(pattern, t)]
            check(read_by != [], "template %s: survey variable %s is read by the playbook %s, its roles, the callbacks or the template's extra vars"
                  % (name, var, playbook))
            check(var not in extra, "template %s: %s is not fixed by the template as well" % (name, var))
        for var in extra:
            if var.startswith("fleetops_"):
                check(re.search(r"\b%s\b" % var, texts + callbacks) is not None, "template %s: extra var %s is read by %s" % (name, var, playbook))
        templates[name] = set(variables)
    check(sorted(p["playbook"] for p in config["awx_job_templates"]) == ["deploy.yml", "plan.yml", "rollback.yml", "status.yml", "versions.yml"],
          "job templates for deploy, plan, rollback, status and versions")

    # The workflow: plan -> approval -> deploy, rollback on failure, each a template defined above.
    workflow = used["workflow_job_template"][0]["awx.awx.workflow_job_template"]
    nodes = {n["identifier"]: n for n in workflow["workflow_nodes"]}
    for node in nodes.values():
        ujt = node["unified_job_template"]
        if ujt["type"] == "job_template":
            check(ujt["name"] in templates, "workflow node %s runs an existing template" % node["identifier"])
        for link in ("success_nodes", "failure_nodes", "always_nodes"):
            for target in node.get("related", {}).get(link, []):
                check(target["identifier"] in nodes, "workflow link %s -> %s exists" % (node["identifier"], target["identifier"]))
    chain = [nodes["plan"]["related"]["success_nodes"][0]["identifier"], nodes["approve"]["related"]["success_nodes"][0]["identifier"],
             nodes["deploy"]["related"]["failure_nodes"][0]["identifier"]]
    check(chain == ["approve", "deploy", "rollback"] and nodes["approve"]["unified_job_template"]["type"] == "workflow_approval",
          "workflow: plan, then approval, then deploy, rollback on failure")
    rollback_vars = templates["projectx rollback"]
    with open(os.path.join(awx, "surveys", "deploy.json"), encoding="utf-8") as handle:
        workflow_vars = {q["variable"] for q in json.load(handle)["spec"]}
    check(not {"fleetops_version", "fleetops_upgradable"} & workflow_vars,
          "the workflow's survey does not pass fleetops_version or fleetops_upgradable, which the rollback node would refuse")
    check(rollback_vars, "the rollback template has a survey")

    # Schedules: a known template, a valid rrule, extra data only for the template's survey variables.
    for schedule in config["awx_schedules"]:
        check(schedule["template"] in templates, "schedule %s runs an existing template" % schedule["name"])
        check(re.fullmatch(r"DTSTART(;TZID=[A-Za-z_/]+)?:\d{8}T\d{6}Z? RRULE:FREQ=(MINUTELY|HOURLY|DAILY|WEEKLY|MONTHLY)(;[A-Z]+=[A-Z0-9,]+)+",
                           schedule["rrule"]) is not None, "schedule %s: rrule in AWX's form" % schedule["name"])
        extra = set(schedule["extra_data"]) - templates[schedule["template"]]
        check(not extra, "schedule %s: extra data %s are survey answers of its template" % (schedule["name"], sorted(extra)))
    print("awx examples: %d surveys, %d job templates, workflow and %d schedules checked" % (
        len(templates), len(templates), len(config["awx_schedules"])))


# --- 3. systemd -----------------------------------------------------------------------------------------------------

def parse_unit(path: str) -> dict:
    sections: dict = {}
    current = None
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], {})
                continue
            check(current is not None and "=" in line, "%s:%d is key=value in a section" % (os.path.basename(path), number), line)
            key, _sep, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


SERVICE_KEYS = {"Unit": {"Description", "Documentation", "Wants", "After", "Conflicts"},
                "Service": {"Type", "User", "Group", "EnvironmentFile", "Environment", "WorkingDirectory", "ExecStart", "TimeoutStartSec",
                            "KillMode", "KillSignal", "TimeoutStopSec", "StateDirectory", "StateDirectoryMode", "NoNewPrivileges",
                            "PrivateTmp", "ProtectSystem"}}
TIMER_KEYS = {"Unit": {"Description", "Documentation"}, "Timer": {"OnCalendar", "RandomizedDelaySec", "AccuracySec", "Persistent"},
              "Install": {"WantedBy"}}


def systemd_units() -> None:
    folder = os.path.join(ROOT, "examples", "systemd")
    units = {"fleetops-release@.service": "fleetops.release.deploy", "fleetops-status.service": "fleetops.release.status"}
    timers = {"fleetops-release@.timer": False, "fleetops-status.timer": True}
    for name, playbook in units.items():
        unit = parse_unit(os.path.join(folder, name))
        check(set(unit) == set(SERVICE_KEYS) and all(set(unit[s]) <= SERVICE_KEYS[s] for s in unit), "%s: known sections and keys" % name, unit)
        service = unit["Service"]
        exec_start = service["ExecStart"][0]
        check(service["Type"] == ["oneshot"] and exec_start.split()[0].endswith("/ansible-playbook") and exec_start.split()[1] == playbook,
              "%s runs ansible-playbook %s once" % (name, playbook))
        check(service["EnvironmentFile"] == ["/etc/fleetops/fleetops.env"], "%s reads its secrets from the env file" % name)
        check(not re.search(r"(?i)(secret|key|token|hooks\.slack|webhook_url)=", exec_start) and " -e @" in exec_start,
              "%s: no secret on the command line, variables from a file" % name)
        check(service.get("KillMode") == ["mixed"], "%s: a stop sends SIGTERM to ansible-playbook alone (graceful abort)" % name)
    for name, persistent in timers.items():
        unit = parse_unit(os.path.join(folder, name))
        check(set(unit) == set(TIMER_KEYS) and all(set(unit[s]) <= TIMER_KEYS[s] for s in unit), "%s: known sections and keys" % name, unit)
        check(unit["Timer"]["Persistent"] == ["true" if persistent else "false"] and unit["Timer"].get("RandomizedDelaySec")
              and unit["Install"]["WantedBy"] == ["timers.target"], "%s: Persistent=%s, RandomizedDelaySec, timers.target" % (name, persistent))
    with open(os.path.join(folder, "fleetops.env"), encoding="utf-8") as handle:
        env = dict(line.split("=", 1) for line in handle.read().splitlines() if line and not line.startswith("#"))
    check(env["AWS_ACCESS_KEY_ID"].startswith("REPLACE_WITH_") and env["AWS_SECRET_ACCESS_KEY"].startswith("REPLACE_WITH_")
          and "FLEETOPS_SLACK_WEBHOOK_URL" not in env and env["FLEETOPS_SLACK_WEBHOOK_URL_FILE"].startswith("/"),
          "the env file example holds placeholders and the webhook URL only as a file path")
    for name in ("release-online.yml", "status.yml"):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        check(data.get("fleetops_hosts") and not any(re.search(r"(?i)secret|access_key|webhook", k) for k in data),
              "%s: hosts to work on and no secret" % name)

    analyze = shutil.which("systemd-analyze")
    if not analyze:
        check(os.environ.get("CI") != "true" and not os.path.exists(os.path.join(ROOT, "tests", ".ci-required")),
              "systemd-analyze is installed (CI requires it)")
        print("systemd: systemd-analyze is not installed; unit keys checked in Python only")
        return
    # Instances of the template units, with ExecStart pointing at a program that exists here (verify checks that).
    units_dir = os.path.join(WORK, "units")
    os.makedirs(units_dir)
    program = tool("ansible-playbook")
    for name in list(units) + list(timers):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            text = handle.read().replace("/opt/fleetops/venv/bin/ansible-playbook", program)
        with open(os.path.join(units_dir, name.replace("@.", "@online.")), "w", encoding="utf-8") as handle:
            handle.write(text)
    names = sorted(os.listdir(units_dir))
    proc = subprocess.run([analyze, "verify", "--man=no"] + ["./" + n for n in names], cwd=units_dir, capture_output=True, text=True,
                          check=False, timeout=60)
    check(proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), "systemd-analyze verify: no complaint about %s" % ", ".join(names),
          proc.stdout + proc.stderr)
    print("systemd: systemd-analyze verify accepts %d units" % len(names))


def main() -> int:
    execution_environment()
    awx_examples()
    systemd_units()
    print("awx_ee: %d checks passed in %.1f s" % (len(CHECKS), time.monotonic() - STARTED))
    return 0


if __name__ == "__main__":
    sys.exit(main())

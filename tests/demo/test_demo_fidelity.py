"""A red-team pass over the demo apiserver through real kubectl 1.37 and raw HTTP: every bad manifest gets the
text a v1.37 kube-apiserver answers, and nothing half-created (an object, a ClusterIP, a node port) is left.

Each expected text cites the upstream code it comes from.  A cluster of its own (an empty scenario), so what
these tests create and break stays off the shared one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from demo_helpers import api
from kubectl_runner import Kubectl
from test_demo_rest import SCENARIO

from k8sterm_widget.demo import DemoCluster
from k8sterm_widget.demo.scenario import parse


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCluster]:
    with DemoCluster(parse(SCENARIO), state_dir=tmp_path_factory.mktemp("fidelity-cluster")) as c:
        yield c


@pytest.fixture(scope="module")
def k(cluster: DemoCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("fidelity-kubectl-home"))


def test_kubectl_create_deployment_keeps_the_template_timestamp_null(
    cluster: DemoCluster, k: Kubectl
) -> None:
    # kubectl posts protobuf; a zero metav1.Time is an empty message, which Go decodes to time.Time{} and
    # writes as null (apimachinery pkg/apis/meta/v1/time_proto.go) -- not as the Unix epoch.
    r = k("create", "deployment", "tpl", "--image=busybox:1.36", "--", "sleep", "infinity")
    assert r.returncode == 0, r.stderr
    got = api(cluster, "GET", "/apis/apps/v1/namespaces/default/deployments/tpl").json()
    assert got["spec"]["template"]["metadata"]["creationTimestamp"] is None
    assert k("delete", "deployment", "tpl").returncode == 0


def service(name: str, spec: str) -> str:
    return f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n{spec}"


NODE_PORT = "  type: NodePort\n  selector: {app: a}\n  ports:\n  - {name: a, port: 80, nodePort: 30080}\n"


def test_service_allocations_are_checked_released_and_never_leaked(k: Kubectl) -> None:
    """alloc.go: a taken or foreign ClusterIP and a taken or out-of-range node port are 422s with the
    allocators' texts (ipallocator/cidrallocator.go ErrAllocated, ErrMismatchedNetwork; portallocator
    ErrAllocated, ErrNotInRange); what a refused request took is given back; deletion releases."""
    assert k("apply", "-f", "-", input=service("np1", NODE_PORT)).returncode == 0
    r = k("apply", "-f", "-", input=service("np2", NODE_PORT))
    assert (r.returncode, r.stderr) == (
        1,
        'The Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is '
        "already allocated\n",
    )
    r = k("apply", "-f", "-", input=service("np3", NODE_PORT.replace("30080", "80")))
    assert r.stderr == (
        'The Service "np3" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in '
        "the valid range. The range of valid ports is 30000-32767\n"
    )
    # the first port gets 30081, the second is refused: 30081 must be free again afterwards
    two = NODE_PORT.replace("30080}", "30081}\n  - {name: b, port: 81, nodePort: 30080}")
    r = k("apply", "-f", "-", input=service("np4", two))
    assert r.stderr.endswith(
        "spec.ports[1].nodePort: Invalid value: 30080: provided port is already allocated\n"
    )
    for ip, why in (("10.96.0.1", "provided IP is already allocated"),
                    ("192.168.1.1", "the provided network does not match the current range")):  # fmt: skip
        r = k("apply", "-f", "-", input=service("ip1", f"  clusterIP: {ip}\n  ports: [{{port: 80}}]\n"))
        assert r.stderr == (
            f'The Service "ip1" is invalid: spec.clusterIPs: Invalid value: ["{ip}"]: failed to allocate IP '
            f"{ip}: {why}\n"
        )
    # a dry run checks but keeps nothing; deleting np1 frees 30080 and its ClusterIP
    r = k(
        "apply",
        "--dry-run=server",
        "-o",
        "json",
        "-f",
        "-",
        input=service("np5", NODE_PORT.replace("30080", "30081")),
    )
    assert r.returncode == 0, r.stderr
    dry_ip = json.loads(r.stdout)["spec"]["clusterIP"]
    assert dry_ip.startswith("10.") and dry_ip != "10.96.0.0"
    assert k("delete", "service", "np1").returncode == 0
    r = k("apply", "-f", "-", input=service("np4", two))
    assert r.returncode == 0, r.stderr
    assert k("get", "service", "np4", "-o", "jsonpath={.spec.ports[*].nodePort}").stdout == "30081 30080"
    ip = k("get", "service", "np4", "-o", "jsonpath={.spec.clusterIP}").stdout
    assert k("delete", "service", "np4").returncode == 0
    r = k("apply", "-f", "-", input=service("ip2", f"  clusterIP: {ip}\n  ports: [{{port: 80}}]\n"))
    assert r.returncode == 0, r.stderr
    r = k("patch", "service", "ip2", "-p", '{"spec":{"clusterIP":"10.96.7.7","clusterIPs":["10.96.7.7"]}}')
    assert r.stderr == (
        'The Service "ip2" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.7.7"]: may not change '
        "once set\n"
    )
    assert k("delete", "service", "ip2").returncode == 0


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: sel}
spec:
SELECTOR  template:
    metadata: {labels: {app: b, tier: web}}
    spec: {containers: [{name: c, image: busybox}]}
"""


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        # ValidateDeploymentSpec: a nil selector is required AND mismatched (labels.Nothing() matches none)
        ("", [
            "spec.selector: Required value",
            'spec.template.metadata.labels: Invalid value: {"app":"b","tier":"web"}: `selector` does not '
            "match template `labels`",
        ]),
        ("  selector: {}\n", [
            "spec.selector: Invalid value: {}: empty selector is invalid for deployment",
        ]),
        ("  selector: {matchExpressions: [{key: app, operator: Is, values: [b]}]}\n", [
            'spec.selector.matchExpressions[0].operator: Invalid value: "Is": not a valid selector operator',
            'spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"Is","values":'
            '["b"]}]}: invalid label selector',
        ]),
        ("  selector: {matchExpressions: [{key: tier, operator: NotIn, values: [web]}]}\n", [
            'spec.template.metadata.labels: Invalid value: {"app":"b","tier":"web"}: `selector` does not '
            "match template `labels`",
        ]),
    ],
)  # fmt: skip
def test_deployment_selectors_as_the_apps_validation_sees_them(
    k: Kubectl, selector: str, expected: list[str]
) -> None:
    r = k("apply", "-f", "-", input=DEPLOYMENT.replace("SELECTOR", selector))
    assert r.returncode == 1
    shown = expected[0] if len(expected) == 1 else "\n" + "".join(f"* {e}\n" for e in expected).rstrip("\n")
    assert r.stderr == f'The Deployment "sel" is invalid: {shown}\n'
    assert k("get", "deployment", "sel").returncode == 1


def test_a_selector_with_expressions_matches_its_template(k: Kubectl) -> None:
    selector = "  selector: {matchExpressions: [{key: tier, operator: In, values: [web, db]}]}\n"
    r = k("apply", "-f", "-", input=DEPLOYMENT.replace("SELECTOR", selector))
    assert r.returncode == 0, r.stderr
    assert k("delete", "deployment", "sel").returncode == 0


LABEL_KEY_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def test_names_and_labels_get_every_broken_rule(cluster: DemoCluster, k: Kubectl) -> None:
    """apimachinery pkg/util/validation (names: one error per broken rule, "characters") and
    pkg/api/validate/content (label keys and values: "bytes")."""
    r = k("create", "namespace", "a.b")
    assert r.stderr == (
        'The Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": must not contain dots\n'
    )
    long_bad = "X" * 254
    r = k("create", "configmap", long_bad)
    assert r.stderr == (
        f'error: failed to create configmap: ConfigMap "{long_bad}" is invalid: [metadata.name: Invalid '
        f'value: "{long_bad}": must be no more than 253 characters, metadata.name: Invalid value: '
        f'"{long_bad}": {SUBDOMAIN_RULE}]\n'
    )
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lbl\n  labels: LABELS\n"
    r = k("apply", "-f", "-", input=cm.replace("LABELS", "{a/b/c: x, v: " + "y" * 64 + "}"))
    assert r.stderr == (
        'The ConfigMap "lbl" is invalid: \n'
        f'* metadata.labels: Invalid value: "a/b/c": a valid label key {LABEL_KEY_RULE} with an optional DNS '
        "subdomain prefix and '/' (e.g. 'example.com/MyName')\n"
        f'* metadata.labels: Invalid value: "{"y" * 64}": must be no more than 63 bytes\n'
    )
    # a generated name is checked as a prefix (trailing dash masked) and as the name it became
    body = {"metadata": {"generateName": "Web-"}}
    status = api(cluster, "POST", "/api/v1/namespaces/default/configmaps", json=body).json()
    causes = [(c["field"], c["message"].split(":")[0]) for c in status["details"]["causes"]]
    assert causes == [("metadata.generateName", "Invalid value"), ("metadata.name", "Invalid value")]
    assert status["details"]["causes"][0]["message"] == f'Invalid value: "Web-": {SUBDOMAIN_RULE}'
    # Go's $ does not accept a trailing newline
    body = {"metadata": {"name": "nl\n"}}
    assert api(cluster, "POST", "/api/v1/namespaces/default/configmaps", json=body).status_code == 422


def test_the_namespace_is_admitted_before_the_object_is_validated(k: Kubectl) -> None:
    # NamespaceLifecycle is a mutating admission plugin: it runs before the strategy's validation
    r = k(
        "apply",
        "-n",
        "nowhere",
        "-f",
        "-",
        input="apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n",
    )
    assert (
        r.stderr
        == 'Error from server (NotFound): error when creating "STDIN": namespaces "nowhere" not found\n'
    )


def test_a_binding_keeps_its_role(k: Kubectl) -> None:
    assert k("create", "rolebinding", "rb", "--clusterrole=view", "--user=u").returncode == 0
    r = k("patch", "rolebinding", "rb", "-p", '{"roleRef":{"name":"edit"}}')
    # the internal rbac.RoleRef has no json tags, so json.Marshal writes Go's field names
    assert r.stderr == (
        'The RoleBinding "rb" is invalid: roleRef: Invalid value: {"APIGroup":"rbac.authorization.k8s.io",'
        '"Kind":"ClusterRole","Name":"edit"}: cannot change roleRef\n'
    )
    assert k("delete", "rolebinding", "rb").returncode == 0


def test_delete_preconditions_name_the_kind(cluster: DemoCluster, k: Kubectl) -> None:
    # rest.BeforeDelete: NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, ...)
    assert k("create", "deployment", "pre", "--image=busybox:1.36").returncode == 0
    path = "/apis/apps/v1/namespaces/default/deployments/pre"
    live = api(cluster, "GET", path).json()["metadata"]
    r = api(cluster, "DELETE", path, json={"preconditions": {"uid": "abc"}})
    assert r.status_code == 409
    assert r.json()["message"] == (
        'Operation cannot be fulfilled on Deployment.apps "pre": the UID in the precondition (abc) does not '
        f"match the UID in record ({live['uid']}). The object might have been deleted and then recreated"
    )
    assert r.json()["details"] == {"name": "pre", "group": "apps", "kind": "Deployment"}
    r = api(cluster, "DELETE", path, json={"preconditions": {"resourceVersion": "1"}})
    assert r.json()["message"] == (
        'Operation cannot be fulfilled on Deployment.apps "pre": the ResourceVersion in the precondition (1) '
        f"does not match the ResourceVersion in record ({live['resourceVersion']}). The object might have "
        "been modified"
    )
    assert k("get", "deployment", "pre").returncode == 0
    r = api(cluster, "DELETE", path, json={"preconditions": {"uid": live["uid"]}})
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body", "problem"),
    [
        # transformDecodeError when SimpleMetaFactory.Interpret fails: encoding/json's scanner words and
        # summarizeData(body, 30)
        ("application/json", b'{"apiVersion":"v1","kind":"ConfigMap",',
         "couldn't get version/kind; json parse error: unexpected end of JSON input "
         '({"apiVersion":"v1","kind":"Con ...)'),
        ("application/json", b'{"kind":"ConfigMap" "x"}',
         "couldn't get version/kind; json parse error: invalid character '\"' after object key:value pair "
         '({"kind":"ConfigMap" "x"})'),
        ("application/json", b"", "couldn't get version/kind; json parse error: unexpected end of JSON input "
         "(<empty>)"),
        ("application/json", b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}",
         "couldn't get version/kind; json parse error: invalid character '[' exceeded max depth "
         '({"a":[[[[[[[[[[[[[[[[[[[[[[[[[ ...)'),
        # go-yaml counts a parser error's line from 0
        ("application/yaml", b"kind: ConfigMap\nmetadata:\n  name: x\n data: 1\n",
         "error converting YAML to JSON: yaml: line 3: expected <block end>, but found "
         "'<block mapping start>' "
         "(6b696e643a20436f6e6669674d61700a6d657461646174613a0a20206e61 ...)"),
    ],
)  # fmt: skip
def test_bodies_that_do_not_parse(cluster: DemoCluster, content_type: str, body: bytes, problem: str) -> None:
    r = api(
        cluster,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        data=body,
        headers={"Content-Type": content_type},
    )
    assert r.status_code == 400
    assert r.json()["message"] == (
        f"the object provided is unrecognized (must be of type ConfigMap): {problem}"
    )


def test_patches_that_do_not_fit_get_patch_gos_answers(k: Kubectl) -> None:
    assert k("create", "deployment", "pt", "--image=busybox:1.36").returncode == 0
    # applyPatchToObject: FromUnstructured's error about the strategic merge patch (as %+v of the map)
    r = k("patch", "deployment", "pt", "-p", '{"spec":{"replicas":"two"}}')
    assert r.stderr == (
        'The request is invalid: patch: Invalid value: "map[spec:map[replicas:two]]": unrecognized type: '
        "int32\n"
    )
    # strategicpatch errors that are not Statuses end as 500s (ErrorToAPIStatus) in mergepatch's words
    r = k("patch", "deployment", "pt", "-p", '{"spec":{"template":{"spec":{"containers":[{"$patch":"x"}]}}}}')
    assert r.stderr == "Error from server: unknown patch type: x in map: map[$patch:x]\n"
    r = k("patch", "deployment", "pt", "-p", '{"spec":{"template":{"spec":{"containers":[{"image":"a"}]}}}}')
    assert r.stderr == "Error from server: map: map[image:a] does not contain declared merge key: name\n"
    # kubectl patch sends no fieldValidation: the default, Warn, drops the field with a warning
    r = k("patch", "deployment", "pt", "-p", '{"spec":{"foo":1}}')
    assert (r.returncode, r.stderr) == (0, 'Warning: unknown field "spec.foo"\n')
    assert k("delete", "deployment", "pt").returncode == 0


def test_server_side_apply_of_an_unknown_field(k: Kubectl) -> None:
    # fieldmanager's ObjectToTyped refuses it before any field validation: a 500 (kubernetes#122480)
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa-bad}\nbogus: 1\n"
    r = k("apply", "--server-side", "-f", "-", input=manifest)
    assert r.stderr == (
        "Error from server: failed to create typed patch object (default/ssa-bad; /v1, Kind=ConfigMap): "
        ".bogus: field not declared in schema\n"
    )
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: ssa-pod}\nspec: {containers: [{name: app, x: 1}]}"
    r = k("apply", "--server-side", "-f", "-", input=pod)
    assert r.stderr.endswith('.spec.containers[name="app"].x: field not declared in schema\n')
    assert k("get", "configmap", "ssa-bad").returncode == k("get", "pod", "ssa-pod").returncode == 1


def test_quantities_are_parsed_as_they_are_decoded(k: Kubectl) -> None:
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  containers:\n"
        "  - {name: c, image: b, resources: {limits: {memory: MEM}}}\n"
    )
    r = k("apply", "-f", "-", input=pod.replace("MEM", "1Gb"))
    assert r.stderr == (
        'Error from server (BadRequest): error when creating "STDIN": Pod in version "v1" cannot be '
        "handled as a Pod: quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'\n"
    )
    r = k("apply", "-f", "-", input=pod.replace("MEM", "1GG"))
    assert r.stderr.endswith("cannot be handled as a Pod: unable to parse quantity's suffix\n")


def test_warnings_reach_kubectl(k: Kubectl) -> None:
    # net.NewWarningHeader quotes the text; unescaped inner quotes made kubectl drop the header
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: warned}\nfoo: 1\n"
    r = k("apply", "--validate=warn", "-f", "-", input=manifest)
    assert (r.returncode, r.stdout, r.stderr) == (
        0,
        "configmap/warned created\n",
        'Warning: unknown field "foo"\n',
    )
    assert k("delete", "configmap", "warned").returncode == 0


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [("v2", "ConfigMap"), ("v1", "Configmap"), ("networking.k8s.io/v1", "Ingress")],
)
@pytest.mark.parametrize("how", [("apply",), ("apply", "--server-side"), ("create",)])
def test_a_kind_the_cluster_does_not_serve(
    k: Kubectl, api_version: str, kind: str, how: tuple[str, ...]
) -> None:
    """kubectl validates against /openapi/v2 (gnostic protobuf) and the CRD list when /openapi/v3 has no
    such group-version or kind, then fails to map the kind: its own words, not a protobuf parse error."""
    manifest = f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: x\n"
    r = k(*how, "-f", "-", input=manifest)
    assert (r.returncode, r.stderr) == (
        1,
        f'error: resource mapping not found for name: "x" namespace: "" from "STDIN": no matches for kind '
        f'"{kind}" in version "{api_version}"\nensure CRDs are installed first\n',
    )


def test_openapi_v2_protobuf_is_gnostics_document(cluster: DemoCluster) -> None:
    from k8sterm_widget.demo import protobuf

    r = api(
        cluster,
        "GET",
        "/openapi/v2",
        headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"},
    )
    doc = protobuf.fields(r.content)
    assert doc[1] == [b"2.0"]  # Document.swagger
    definitions = protobuf.fields(doc[9][0])[1]  # Definitions.additional_properties: NamedSchema
    named = {protobuf.fields(d)[1][0]: protobuf.fields(d)[2][0] for d in definitions}
    pod = protobuf.fields(named[b"io.k8s.api.core.v1.Pod"])
    extensions = {protobuf.fields(e)[1][0]: protobuf.fields(protobuf.fields(e)[2][0])[2][0] for e in pod[31]}
    gvk = json.loads(extensions[b"x-kubernetes-group-version-kind"])
    assert gvk == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert protobuf.fields(pod[22][0])[1] == [b"object"]  # Schema.type: TypeItem
    assert api(cluster, "GET", "/openapi/v2").json()["swagger"] == "2.0"  # JSON unless asked


def test_custom_resource_definitions_are_listed_not_served(k: Kubectl) -> None:
    assert k("get", "crd").stderr == "No resources found\n"
    crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: foos.x.io}\n"
    r = k("create", "-f", "-", input=crd)
    assert r.stderr == (
        'Error from server (MethodNotAllowed): error when creating "STDIN": the server does not allow this '
        "method on the requested resource\n"
    )


POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n  - name: c\n    image: b\n"
C = "spec.containers[0]"


STANDARD = "must be a standard resource for containers"
PORT_CHARS = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
LIMIT = "must be less than or equal to"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # ValidateContainerResourceRequirements: shown in canonical form (Quantity.String())
        ("    resources: {limits: {cpu: '1', memory: 1Gi}, requests: {cpu: '2', memory: 2048Mi}}\n", [
            f'{C}.resources.requests: Invalid value: "2": {LIMIT} cpu limit of 1',
            f'{C}.resources.requests: Invalid value: "2Gi": {LIMIT} memory limit of 1Gi',
        ]),
        # SetDefaults_Pod copies the limit to the request, which is checked too
        ("    resources: {limits: {memmory: 1Gi}}\n", [
            f'{C}.resources.limits[memmory]: Invalid value: "memmory": {STANDARD}',
            f'{C}.resources.requests[memmory]: Invalid value: "memmory": {STANDARD}',
        ]),
        # validateHandler, validateLivenessProbe
        ("    livenessProbe: {periodSeconds: 5}\n", [
            f"{C}.livenessProbe: Required value: must specify a handler type",
        ]),
        ("    livenessProbe: {httpGet: {port: 80}, tcpSocket: {port: 80}, successThreshold: 2}\n", [
            f"{C}.livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
            f"{C}.livenessProbe.successThreshold: Invalid value: 2: must be 1",
        ]),
        ("    readinessProbe: {tcpSocket: {port: Web}}\n", [
            f'{C}.readinessProbe.tcpSocket.port: Invalid value: "Web": {PORT_CHARS}',
        ]),
        # validateContainerPorts (IsValidPortName, IsValidPortNum), ValidateEnv (relaxed), ValidateVolumes
        ("    ports: [{containerPort: 80, hostPort: 70000, name: Http}]\n", [
            f'{C}.ports[0].name: Invalid value: "Http": {PORT_CHARS}',
            f"{C}.ports[0].hostPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ]),
        ("    env: [{name: 'A=B', value: x}]\n", [
            f'{C}.env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of '
            "printable ASCII characters other than '='",
        ]),
        ("  volumes: [{name: v, emptyDir: {}}, {name: v, emptyDir: {}}]\n", [
            'spec.volumes[1].name: Duplicate value: "v"',
        ]),
    ],
)  # fmt: skip
def test_pod_specs_get_core_validations_words(k: Kubectl, extra: str, expected: list[str]) -> None:
    r = k("apply", "-f", "-", input=POD + extra)
    shown = expected[0] if len(expected) == 1 else "\n" + "".join(f"* {e}\n" for e in expected).rstrip("\n")
    assert (r.returncode, r.stderr) == (1, f'The Pod "bad" is invalid: {shown}\n')


def test_quantities_are_stored_canonical_and_limits_default_requests(k: Kubectl) -> None:
    # Quantity.String() (1024Mi is 1Gi, 0.5 is 500m); SetDefaults_Pod copies limits to missing requests
    pod = POD.replace("bad", "canon") + "    resources: {limits: {memory: 1024Mi, cpu: 0.5}}\n"
    r = k("apply", "--dry-run=server", "-o", "jsonpath={.spec.containers[0].resources}", "-f", "-", input=pod)
    assert json.loads(r.stdout) == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"cpu": "500m", "memory": "1Gi"},
    }


def test_configmap_and_secret_data(cluster: DemoCluster, k: Kubectl) -> None:
    # a Secret's data is []byte: base64.StdEncoding while decoding, CorruptInputError's offset
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: hunter2}\n"
    r = k("apply", "-f", "-", input=secret)
    assert r.stderr == (
        'Error from server (BadRequest): error when creating "STDIN": Secret in version "v1" cannot be '
        "handled as a Secret: illegal base64 data at input byte 4\n"
    )
    # ValidateConfigMap: IsConfigMapKey (with hasChDirPrefix), 1 MiB in all, reported on the whole object
    dots = {"metadata": {"name": "dots"}, "data": {"..": "x"}}
    status = api(cluster, "POST", "/api/v1/namespaces/default/configmaps", json=dots).json()
    assert (
        status["message"] == 'ConfigMap "dots" is invalid: data[..]: Invalid value: "..": must not be \'..\''
    )
    body = {"metadata": {"name": "big"}, "data": {"a": "x" * (1024 * 1024), "b": "y"}}
    status = api(cluster, "POST", "/api/v1/namespaces/default/configmaps", json=body).json()
    assert status["message"] == 'ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes'
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 1048576 bytes",
            "field": "[]",
        }
    ]


def test_namespaces_that_refuse_content_and_service_account_tokens(k: Kubectl) -> None:
    # NamespaceLifecycle: NewForbidden(resource, name, "unable to create new content in namespace ...")
    assert k("create", "namespace", "closing").returncode == 0
    assert k("create", "configmap", "held", "-n", "closing").returncode == 0
    hold = '{"metadata":{"finalizers":["example.com/hold"]}}'
    assert k("patch", "configmap", "held", "-n", "closing", "-p", hold).returncode == 0
    assert k("delete", "namespace", "closing", "--wait=false").returncode == 0
    r = k("run", "late", "--image=busybox", "-n", "closing")
    assert r.stderr == (
        'Error from server (Forbidden): pods "late" is forbidden: unable to create new content in namespace '
        "closing because it is being terminated\n"
    )
    r = k("create", "configmap", "x", "-n", "never")
    assert r.stderr == 'error: failed to create configmap: namespaces "never" not found\n'
    assert (
        k("patch", "configmap", "held", "-n", "closing", "-p", '{"metadata":{"finalizers":null}}').returncode
        == 0
    )
    # the authorizer's words for a service account (RBAC: no binding, nothing allowed)
    assert k("create", "serviceaccount", "bot").returncode == 0
    token = k("create", "token", "bot").stdout.strip()
    r = k("--token", token, "get", "pods")
    assert r.stderr == (
        'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:default:bot" cannot '
        'list resource "pods" in API group "" in the namespace "default"\n'
    )
    r = k("--token", token, "delete", "node", "n1")
    assert r.stderr == (
        'Error from server (Forbidden): nodes "n1" is forbidden: User "system:serviceaccount:default:bot" '
        'cannot delete resource "nodes" in API group "" at the cluster scope\n'
    )


def test_rolling_update_percentages_and_cluster_ip_strings(k: Kubectl) -> None:
    strategy = "  strategy: {rollingUpdate: {maxSurge: '50', maxUnavailable: 120%}}\n"
    selector = "  selector: {matchLabels: {app: b}}\n"
    r = k("apply", "-f", "-", input=DEPLOYMENT.replace("sel", "ru").replace("SELECTOR", selector + strategy))
    # ValidateRollingUpdateDeployment: IsValidPercent, IsNotMoreThan100Percent (IntOrString marshals bare)
    assert r.stderr == (
        'The Deployment "ru" is invalid: \n'
        '* spec.strategy.rollingUpdate.maxSurge: Invalid value: "50": a valid percent string must be a '
        "numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is "
        "'[0-9]+%')\n"
        '* spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%\n'
    )
    r = k("apply", "-f", "-", input=service("badip", "  clusterIP: 10.96.0.300\n  ports: [{port: 80}]\n"))
    assert r.stderr == (
        'The Service "badip" is invalid: spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid '
        "IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)\n"
    )


def test_empty_lists_and_maps_are_not_kept(k: Kubectl) -> None:
    # stored as protobuf, an empty slice or map comes back nil: omitted (omitempty), as kind shows it
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: empty, labels: {}, finalizers: [a.io/x]}\n"
    assert k("apply", "-f", "-", input=manifest).returncode == 0
    patch = '{"metadata":{"$deleteFromPrimitiveList/finalizers":["a.io/x"]}}'
    assert k("patch", "configmap", "empty", "-p", patch).returncode == 0
    meta = json.loads(k("get", "configmap", "empty", "-o", "json").stdout)["metadata"]
    assert "finalizers" not in meta and "labels" not in meta
    assert k("delete", "configmap", "empty").returncode == 0


LIST = """apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: l1}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: l2}, data: {a: "1"}EXTRA}
"""


def test_a_kind_list_is_validated_against_openapi_v2(k: Kubectl) -> None:
    # a List is validated client-side with the protobuf /openapi/v2 models (kubectl's ValidationError text)
    r = k("apply", "-f", "-", input=LIST.replace("EXTRA", ", bogus: 1"))
    assert r.stderr == (
        'error: error validating "STDIN": error validating data: ValidationError(ConfigMap): unknown field '
        '"bogus" in io.k8s.api.core.v1.ConfigMap; if you choose to ignore these errors, turn validation off '
        "with --validate=false\n"
    )
    r = k("apply", "-f", "-", input=LIST.replace("EXTRA", ""))
    assert (r.returncode, r.stdout) == (0, "configmap/l1 created\nconfigmap/l2 created\n"), r.stderr
    assert k("delete", "configmap", "l1", "l2").returncode == 0


@pytest.mark.parametrize(
    ("selector", "problem"),
    [
        # labels.Parse (pkg/labels/selector.go): the lexer's end of string is an empty literal
        ("app in (web", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("app >= 3", "unable to parse requirement: found '=', expected: identifier"),
        ("app web", "unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt"),
        ("app,", "found '', expected: identifier after ','"),
        # validateLabelKey has no field path: Go prints a nil *field.Path as <nil>
        ("a/b/c", "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a valid label key "
         f"{LABEL_KEY_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"),
        ("app=-x", "unable to parse requirement: values[0][app]: Invalid value: \"-x\": a valid label must "
         "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
         "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
         "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
    ],
)  # fmt: skip
def test_label_selectors_that_do_not_parse(k: Kubectl, selector: str, problem: str) -> None:
    r = k("get", "configmaps", "-l", selector)
    assert r.stderr == (
        'Error from server (BadRequest): Unable to find "/v1, Resource=configmaps" that match label '
        f'selector "{selector}", field selector "": {problem}\n'
    )


@pytest.mark.parametrize("namespace", ["default", "kube-system", "kube-public"])
def test_the_system_namespaces_may_not_be_deleted(k: Kubectl, namespace: str) -> None:
    # NamespaceLifecycle's immortal namespaces
    r = k("delete", "namespace", namespace)
    assert r.stderr == (
        f'Error from server (Forbidden): namespaces "{namespace}" is forbidden: this namespace may not be '
        "deleted\n"
    )
    assert k("get", "namespace", namespace, "-o", "jsonpath={.status.phase}").stdout == "Active"


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        # validateScheduleFormat shows robfig/cron v3.0.1 ParseStandard's error
        ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
        ("CRON_TZ=UTC 0 * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
    ],
)
def test_cron_schedules(k: Kubectl, schedule: str, problem: str) -> None:
    r = k("create", "cronjob", "cj", "--image=busybox", f"--schedule={schedule}", "--", "true")
    assert r.stderr == (
        f'error: failed to create cronjob: CronJob.batch "cj" is invalid: spec.schedule: Invalid value: '
        f'"{schedule}": {problem}\n'
    )


@pytest.mark.parametrize(
    ("zone", "problem"),
    [
        # validateTimeZone: an IANA name time.LoadLocation knows, never "Local"
        ("Mars/Olympus", "unknown time zone Mars/Olympus"),
        ("../etc", "unknown time zone ../etc"),
        ("Local", "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"),
    ],
)
def test_cron_time_zones(k: Kubectl, zone: str, problem: str) -> None:
    pod = {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
    spec = {"schedule": "@hourly", "timeZone": zone, "jobTemplate": {"spec": {"template": {"spec": pod}}}}
    cronjob = json.dumps(
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"}, "spec": spec}
    )
    r = k("create", "-f", "-", input=cronjob)
    assert r.stderr == f'The CronJob "cj" is invalid: spec.timeZone: Invalid value: "{zone}": {problem}\n'


def test_a_job_that_would_restart_always(k: Kubectl) -> None:
    # validateJobSpec: the pod template's defaulted "Always" is not a Job's restart policy
    job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {template: {spec: {containers: [{}]}}}"
    r = k("apply", "-f", "-", input=job)
    assert r.stderr == (
        'The Job "j" is invalid: \n* spec.template.spec.containers[0].name: Required value\n'
        "* spec.template.spec.containers[0].image: Required value\n"
        '* spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", '
        '"Never"\n'
    )

{{/*
The ServiceAccount and only the RBAC the agent uses (agent/src/main/java/io/kontrol/agent/identity):
  - pods get, namespaced: KubernetesIdentity reads its own pod (IP, host IP, labels, annotations,
    node name). No list/watch: the pod's annotations are followed through the Downward API volume
    at /etc/podinfo (LiveAnnotations), so the agent's PodWatch informer never starts here;
  - nodes get, cluster-scoped, gated by rbac.clusterResources: KubernetesIdentity reads its node
    (labels, annotations, ExternalIP); without it the agent logs that node facts are unknown.
The chart's own test (charts/src/test/.../AgentRbacTest) runs the agent's identity code against
a stand-in API server and fails when a call is not allowed here or a rule goes unused.
*/}}
{{- define "kontrol.serviceAccount" -}}
{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "kontrol.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "kontrol.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: true
{{- end }}
{{- end -}}

{{- define "kontrol.rbac" -}}
{{- if .Values.rbac.create }}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "kontrol.suffixed" (list . "kontrol") }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "kontrol.labels" . | nindent 4 }}
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ include "kontrol.suffixed" (list . "kontrol") }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "kontrol.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ include "kontrol.suffixed" (list . "kontrol") }}
subjects:
  - kind: ServiceAccount
    name: {{ include "kontrol.serviceAccountName" . }}
    namespace: {{ .Release.Namespace }}
{{- if .Values.rbac.clusterResources }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ include "kontrol.clusterName" . }}
  labels:
    {{- include "kontrol.labels" . | nindent 4 }}
rules:
  - apiGroups: [""]
    resources: ["nodes"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ include "kontrol.clusterName" . }}
  labels:
    {{- include "kontrol.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ include "kontrol.clusterName" . }}
subjects:
  - kind: ServiceAccount
    name: {{ include "kontrol.serviceAccountName" . }}
    namespace: {{ .Release.Namespace }}
{{- end }}
{{- end }}
{{- end -}}

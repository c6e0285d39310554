{{/*
Labels. Every object carries the app.kubernetes.io/* labels; pods also carry `app` and `role`, the
two labels the kontrol agent requires (SPEC 3). Selectors use name + instance only: they are
immutable on a StatefulSet, so they must not move with the chart's version.
*/}}

{{- define "kontrol.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kontrol.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "kontrol.labels" -}}
helm.sh/chart: {{ include "kontrol.chart" . }}
{{ include "kontrol.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | replace "+" "_" | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ .Values.role }}
app.kubernetes.io/part-of: kontrol
{{- end -}}

{{/* A pod's labels: the standard ones, `app` and `role`, then the operator's podLabels. */}}
{{- define "kontrol.podLabels" -}}
{{ include "kontrol.labels" . }}
app: {{ include "kontrol.app" . }}
role: {{ .Values.role }}
{{- with .Values.podLabels }}
{{ toYaml . }}
{{- end -}}
{{- end -}}

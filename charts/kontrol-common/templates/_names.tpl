{{/*
Names. Every object of a release is named from kontrol.fullname; cluster-scoped objects carry the
namespace too (kontrol.clusterName), since two releases of the same name in two namespaces would
otherwise collide.
*/}}

{{/* The chart's name (nameOverride wins), a DNS label. */}}
{{- define "kontrol.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name: the release name when it already contains the chart's name. */}}
{{- define "kontrol.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* fullname plus a suffix, still a DNS label: the base is cut so that the suffix survives. */}}
{{- define "kontrol.suffixed" -}}
{{- $ctx := index . 0 -}}{{- $suffix := index . 1 -}}
{{- printf "%s-%s" (include "kontrol.fullname" $ctx | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix -}}
{{- end -}}

{{/* The headless Service of a StatefulSet: stable per-pod names <pod>.<headless>. */}}
{{- define "kontrol.headlessName" -}}
{{- include "kontrol.suffixed" (list . "headless") -}}
{{- end -}}

{{/* Name of a cluster-scoped object: <namespace>-<fullname>-kontrol. */}}
{{- define "kontrol.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "kontrol.fullname" .) | trunc 54 | trimSuffix "-" -}}-kontrol
{{- end -}}

{{/* helm.sh/chart: name-version, '+' is not allowed in a label value. */}}
{{- define "kontrol.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The `app` label: the pod's kontrol group /kontrol/<namespace>/<app>. */}}
{{- define "kontrol.app" -}}
{{- default (include "kontrol.fullname" .) .Values.app | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The kontrol group key of the release's pods. */}}
{{- define "kontrol.group" -}}
{{- printf "/kontrol/%s/%s" .Release.Namespace (include "kontrol.app" .) -}}
{{- end -}}

{{- define "kontrol.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kontrol.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image: [registry/]repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "kontrol.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}{{- $repo = printf "%s/%s" (trimSuffix "/" .Values.image.registry) $repo -}}{{- end -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

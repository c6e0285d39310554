{{/* The overrides as the annotation's key=value lines, keys sorted. */}}
{{- define "kafka.overrides" -}}
{{- range $k, $v := .Values.overrides }}
{{ $k }}={{ $v }}
{{- end }}
{{- end -}}

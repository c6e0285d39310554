{{/* The overrides as the annotation's key=value lines, keys sorted. */}}
{{- define "kafka.overrides" -}}
{{- range $k, $v := .Values.overrides }}
{{- /* YAML numbers reach templates as float64, printed as 2.592e+08: Kafka wants 259200000 */}}
{{- if and (eq (kindOf $v) "float64") (eq (floor $v) $v) }}
{{ $k }}={{ $v | int64 }}
{{- else }}
{{ $k }}={{ $v }}
{{- end }}
{{- end }}
{{- end -}}

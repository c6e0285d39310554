{{/*
Scheduling: anti-affinity on the host (affinityPreset soft|hard|none; a raw `affinity` wins), and
topology spread constraints whose labelSelector defaults to the release's pods.
*/}}
{{- define "kontrol.affinity" -}}
{{- if .Values.affinity -}}
{{- toYaml .Values.affinity -}}
{{- else if eq .Values.affinityPreset "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "kontrol.selectorLabels" . | nindent 12 }}
{{- else if eq .Values.affinityPreset "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "kontrol.selectorLabels" . | nindent 10 }}
{{- end -}}
{{- end -}}

{{- define "kontrol.topologySpreadConstraints" -}}
{{- $ctx := . -}}
{{- range .Values.topologySpreadConstraints }}
{{- $c := deepCopy . -}}
{{- if not $c.labelSelector -}}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "kontrol.selectorLabels" $ctx | fromYaml)) -}}
{{- end }}
- {{ toYaml $c | nindent 2 | trim }}
{{- end -}}
{{- end -}}

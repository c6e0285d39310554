{{/* A PodDisruptionBudget over the release's pods: maxUnavailable by default, or minAvailable. */}}
{{- define "kontrol.pdb" -}}
{{- if .Values.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "kontrol.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "kontrol.labels" . | nindent 4 }}
spec:
  {{- if hasKey .Values.podDisruptionBudget "minAvailable" }}
  minAvailable: {{ .Values.podDisruptionBudget.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "kontrol.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

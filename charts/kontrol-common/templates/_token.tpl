{{/*
The peer API's token (KONTROL_TOKEN_FILE): a Secret generated at install and read back with
`lookup` on every upgrade, so the token never changes under running pods; kept on uninstall
(helm.sh/resource-policy: keep) so a re-install finds it. Not rendered when
kontrol.peerToken.existingSecret names the operator's own Secret.
*/}}
{{- define "kontrol.peerToken" -}}
{{- if not .Values.kontrol.peerToken.existingSecret }}
{{- $name := include "kontrol.peerTokenSecret" . -}}
{{- $key := .Values.kontrol.peerToken.key -}}
{{- $token := randAlphaNum 48 | b64enc -}}
{{- $old := lookup "v1" "Secret" .Release.Namespace $name -}}
{{- if and $old $old.data -}}
{{- if hasKey $old.data $key -}}{{- $token = index $old.data $key -}}{{- end -}}
{{- end }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "kontrol.labels" . | nindent 4 }}
  annotations:
    helm.sh/resource-policy: keep
type: Opaque
data:
  {{ $key }}: {{ $token }}
{{- end }}
{{- end -}}

{{/*
The `helm test` hook: a pod from the chart's own image that asks etcd for the release's kontrol
group (`kontrol status --group`) and fails unless it has as many members as expected.
Call with (dict "ctx" . "members" N); N = 0 means "at least one" (a DaemonSet).
*/}}
{{- define "kontrol.testPod" -}}
{{- $ctx := .ctx -}}
{{- if $ctx.Values.tests.enabled }}
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "kontrol.suffixed" (list $ctx "test-group") }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "kontrol.labels" $ctx | nindent 4 }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  restartPolicy: Never
  serviceAccountName: {{ include "kontrol.serviceAccountName" $ctx }}
  {{- with $ctx.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: group
      image: {{ include "kontrol.image" $ctx }}
      imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
      command: ["/bin/sh", "-c"]
      args:
        - |
          set -u
          out=$(kontrol status --group "$GROUP" --format json) || { echo "kontrol status --group $GROUP failed: $out"; exit 1; }
          n=$(printf '%s\n' "$out" | grep -o '"seq"' | wc -l)
          echo "group $GROUP: $n member(s), expected ${MEMBERS:-at least 1}"
          if [ "${MEMBERS:-0}" -eq 0 ]; then [ "$n" -ge 1 ]; else [ "$n" -eq "$MEMBERS" ]; fi
      env:
        - name: GROUP
          value: {{ printf "%s/%s" $ctx.Release.Namespace (include "kontrol.app" $ctx) | quote }}
        - name: MEMBERS
          value: {{ .members | quote }}
        - name: KONTROL_ETCD
          value: {{ include "kontrol.etcdEndpoints" $ctx | quote }}
        - name: KONTROL_TOKEN_FILE
          value: /etc/kontrol/peer/{{ $ctx.Values.kontrol.peerToken.key }}
      volumeMounts:
        - name: peer-token
          mountPath: /etc/kontrol/peer
          readOnly: true
  volumes:
    - name: peer-token
      secret:
        secretName: {{ include "kontrol.peerTokenSecret" $ctx }}
{{- end }}
{{- end -}}

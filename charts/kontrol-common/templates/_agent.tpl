{{/*
The kontrol agent's side of a pod: its environment, the Downward API volume, the peer token, the
annotations it reads. The agent runs in the service's own container (under supervisord), so these
go into that container.
*/}}

{{/* KONTROL_ETCD: the endpoints given, else the etcd chart's client Service (the subchart's, or a
     release named "etcd" in this namespace). */}}
{{- define "kontrol.etcdEndpoints" -}}
{{- if .Values.kontrol.etcd.endpoints -}}
{{- join "," .Values.kontrol.etcd.endpoints -}}
{{- else if .Values.etcd.enabled -}}
{{- printf "http://%s-etcd.%s.svc:2379" (.Release.Name | trunc 58 | trimSuffix "-") .Release.Namespace -}}
{{- else -}}
{{- printf "http://etcd.%s.svc:2379" .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* The peer token's Secret: the one named, else the one the chart generates. */}}
{{- define "kontrol.peerTokenSecret" -}}
{{- default (include "kontrol.suffixed" (list . "peer-token")) .Values.kontrol.peerToken.existingSecret -}}
{{- end -}}

{{- define "kontrol.agentEnv" -}}
- name: NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: KONTROL_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: KONTROL_HOST
  valueFrom:
    fieldRef:
      fieldPath: status.hostIP
- name: KONTROL_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: KONTROL_ETCD
  value: {{ include "kontrol.etcdEndpoints" . | quote }}
- name: KONTROL_TTL
  value: {{ .Values.kontrol.ttl | quote }}
- name: KONTROL_DAMPER
  value: {{ .Values.kontrol.damper | quote }}
- name: KONTROL_FOVER
  value: {{ .Values.kontrol.failover | quote }}
- name: KONTROL_HTTP_PORT
  value: {{ .Values.kontrol.httpPort | quote }}
- name: KONTROL_LOG_FORMAT
  value: {{ .Values.kontrol.logFormat | quote }}
- name: KONTROL_PODINFO
  value: /etc/podinfo
- name: KONTROL_TOKEN_FILE
  value: /etc/kontrol/peer/{{ .Values.kontrol.peerToken.key }}
{{- with .Values.kontrol.mode }}
- name: KONTROL_MODE
  value: {{ . | quote }}
{{- end }}
{{- if not .Values.kontrol.ec2Metadata }}
- name: AWS_EC2_METADATA_DISABLED
  value: "true"
{{- end }}
{{- with .Values.kontrol.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "kontrol.agentVolumeMounts" -}}
- name: podinfo
  mountPath: /etc/podinfo
  readOnly: true
- name: peer-token
  mountPath: /etc/kontrol/peer
  readOnly: true
{{- end -}}

{{/* The Downward API volume (labels and annotations, updated live by the kubelet, with no API
     call) and the peer token. */}}
{{- define "kontrol.agentVolumes" -}}
- name: podinfo
  downwardAPI:
    items:
      - path: labels
        fieldRef:
          fieldPath: metadata.labels
      - path: annotations
        fieldRef:
          fieldPath: metadata.annotations
- name: peer-token
  secret:
    secretName: {{ include "kontrol.peerTokenSecret" . }}
    defaultMode: 0444
{{- end -}}

{{/* The agent's port for /metrics, /livez, /readyz. */}}
{{- define "kontrol.agentPorts" -}}
- name: peer
  containerPort: 8000
  protocol: TCP
- name: agent-http
  containerPort: {{ .Values.kontrol.httpPort }}
  protocol: TCP
{{- end -}}

{{/*
A pod's annotations: kontrol.unity3d.com/master and /opentsdb from kontrol.master and
kontrol.opentsdb, the chart's own (passed as "extra", e.g. haproxy.unity3d.com/config), then the
operator's podAnnotations. Call with (dict "ctx" . "extra" (dict ...)).
*/}}
{{- define "kontrol.podAnnotations" -}}
{{- $ctx := .ctx -}}
{{- $a := dict -}}
{{- with $ctx.Values.kontrol.master }}{{- $_ := set $a "kontrol.unity3d.com/master" (join "," .) -}}{{- end -}}
{{- with $ctx.Values.kontrol.opentsdb }}{{- $_ := set $a "kontrol.unity3d.com/opentsdb" . -}}{{- end -}}
{{- range $k, $v := .extra }}{{- if $v }}{{- $_ := set $a $k $v -}}{{- end -}}{{- end -}}
{{- range $k, $v := $ctx.Values.podAnnotations }}{{- $_ := set $a $k $v -}}{{- end -}}
{{- if $a }}
{{- toYaml $a -}}
{{- end -}}
{{- end -}}

{{/* What every pod spec of the charts shares, after `containers` and `volumes`. */}}
{{- define "kontrol.podSpecCommon" -}}
serviceAccountName: {{ include "kontrol.serviceAccountName" . }}
automountServiceAccountToken: true
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (include "kontrol.affinity" .) }}
affinity:
  {{- . | nindent 2 }}
{{- end }}
{{- with (include "kontrol.topologySpreadConstraints" .) }}
topologySpreadConstraints:
  {{- . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Probe timings: a probes.* entry without its `enabled` switch. */}}
{{- define "kontrol.probeTimings" -}}
{{- toYaml (omit . "enabled") -}}
{{- end -}}

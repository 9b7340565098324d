{{- define "habanero.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "habanero.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one role: habanero.selector (dict "root" $ "role" "gateway") */}}
{{- define "habanero.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "habanero.secretName" -}}
{{- if .Values.existingSecret -}}{{ .Values.existingSecret }}{{- else -}}{{ include "habanero.fullname" . }}{{- end -}}
{{- end -}}

{{- define "habanero.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The headless Service whose addresses are the workers (the gateway's cluster.workers). */}}
{{- define "habanero.workerService" -}}
{{ include "habanero.fullname" . }}-worker
{{- end -}}

{{/* Environment every process gets: the database URL and the KEK from the Secret. */}}
{{- define "habanero.env" -}}
- name: HABANERO_STORE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "habanero.secretName" . }}
      key: store-url
- name: HABANERO_KEYS_KEK
  valueFrom:
    secretKeyRef:
      name: {{ include "habanero.secretName" . }}
      key: kek
{{- end -}}

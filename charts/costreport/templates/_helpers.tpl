{{- define "costreport.name" -}}costreport{{- end -}}
{{- define "costreport.fullname" -}}{{ printf "%s-costreport" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "costreport.labels" -}}
app.kubernetes.io/name: costreport
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
{{- define "costreport.selector" -}}
app.kubernetes.io/name: costreport
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "costreport.serviceAccount" -}}{{ default (include "costreport.fullname" .) .Values.serviceAccount.name }}{{- end -}}
{{- define "costreport.image" -}}{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}{{- end -}}
{{- define "costreport.sourceArgs" -}}
- --source={{ .Values.source }}
- --prometheus-url={{ .Values.prometheus.url }}
- --cluster-label={{ .Values.prometheus.clusterLabel }}
- --scrape-interval={{ .Values.prometheus.scrapeInterval }}
- --cluster-id={{ .Values.clusterId }}
- --pricing=/etc/costreport/pricing/default.json
{{- range $k, $v := .Values.prometheus.headers }}
- --prometheus-header={{ $k }}={{ $v }}
{{- end }}
- --log-format=json
{{- if .Values.ledger.enabled }}
- --ledger={{ include "costreport.ledgerUrl" . }}
{{- end }}
{{- end -}}

{{- define "costreport.ledgerUrl" -}}
{{- .Values.ledger.url | default "/var/lib/costreport/ledger" -}}
{{- end -}}

{{- define "costreport.ledgerVolume" -}}
{{- if and .Values.ledger.enabled (not .Values.ledger.url) }}true{{ end -}}
{{- end -}}

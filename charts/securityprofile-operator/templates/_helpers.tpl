{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "spo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, or the release name alone when it already contains the chart name. */}}
{{- define "spo.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "spo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "spo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "spo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of the `helm test` pod: not the selector labels (the Deployment must not adopt it). */}}
{{- define "spo.testLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "spo.name" . | trunc 58 | trimSuffix "-" }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: test
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "spo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "spo.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "spo.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Leader election is on with more than one replica, or when asked for. */}}
{{- define "spo.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{- end }}
{{- end }}

{{/*
The Deployment strategy: updateStrategy while leader election is on. Without leader election
the two pods of a rolling update would both write to AWS, so it is always Recreate then.
*/}}
{{- define "spo.strategy" -}}
{{- if include "spo.leaderElect" . }}
{{- toYaml .Values.updateStrategy }}
{{- else -}}
type: Recreate
{{- end }}
{{- end }}

{{/* awsTps as OPERATION=N pairs, comma-separated, in a stable (sorted) order. */}}
{{- define "spo.awsTps" -}}
{{- $pairs := list }}
{{- range $op, $n := .Values.awsTps }}
{{- $pairs = append $pairs (printf "%s=%v" $op $n) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/* The rules on SecurityProfiles and their Events: exactly what the controller calls. */}}
{{- define "spo.profileRules" -}}
- apiGroups: ["iot.awscc.io"]
  resources: ["securityprofiles"]
  # list/watch: the controller's watcher; patch: the finalizer (JSON patch).
  verbs: ["list", "watch", "patch"]
- apiGroups: ["iot.awscc.io"]
  resources: ["securityprofiles/status"]
  verbs: ["patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  # create: new Events; patch: the event series of a repeated Event.
  verbs: ["create", "patch"]
{{- end }}

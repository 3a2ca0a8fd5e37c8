{{/*
The Deployment of one component. Usage:
  include "herald.deployment" (dict "ctx" $ "component" "router" "env" (dict "ROUTER_PREFETCH" "...")))
Entries of `env` with an empty value are left out, so the service's own default applies.
*/}}
{{- define "herald.deployment" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
{{- $c := index $v .component -}}
{{- $isConnector := eq .component "connector" -}}
{{- $envBlock := include "herald.componentEnv" . -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
spec:
  {{- if not $c.autoscaling.enabled }}
  replicas: {{ $c.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # Surge first: a replica leaves only once its replacement is ready.
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "herald.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        # Rolls the pods when the effective configuration changes, including a Secret the chart creates.
        checksum/config: {{ printf "%s\n%s" $envBlock (include "herald.jwtSecretData" $ctx) | sha256sum }}
        {{- with $c.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "herald.labels" . | nindent 8 }}
        {{- with $c.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "herald.serviceAccountName" $ctx }}
      # Herald never calls the Kubernetes API.
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ include "herald.terminationGrace" $ctx }}
      {{- with $v.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      {{- with $c.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      topologySpreadConstraints:
        {{- include "herald.topologySpread" . | nindent 8 }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "herald.image" . | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          env:
            {{- $envBlock | nindent 12 }}
          ports:
            {{- if $isConnector }}
            - name: ws
              containerPort: {{ $c.port }}
              protocol: TCP
            {{- end }}
            - name: admin
              containerPort: {{ $v.config.adminPort }}
              protocol: TCP
          startupProbe:
            httpGet:
              path: /healthz
              port: admin
            periodSeconds: 2
            failureThreshold: {{ $v.probes.startup.failureThreshold }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: admin
            periodSeconds: {{ $v.probes.readiness.periodSeconds }}
            failureThreshold: {{ $v.probes.readiness.failureThreshold }}
            timeoutSeconds: 2
          livenessProbe:
            httpGet:
              path: /healthz
              port: admin
            periodSeconds: {{ $v.probes.liveness.periodSeconds }}
            failureThreshold: {{ $v.probes.liveness.failureThreshold }}
            timeoutSeconds: 2
          {{- if gt (int $v.shutdown.preStopSleepSeconds) 0 }}
          lifecycle:
            preStop:
              # Gives kube-proxy and ingress controllers time to stop routing here before SIGTERM.
              exec:
                command: ["sleep", "{{ $v.shutdown.preStopSleepSeconds }}"]
          {{- end }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          volumeMounts:
            {{- include "herald.volumeMounts" $ctx | nindent 12 }}
      volumes:
        {{- include "herald.volumes" . | nindent 8 }}
{{- end -}}

{{/* All env entries of a component, in a stable order: shared, component settings, extraEnv. */}}
{{- define "herald.componentEnv" -}}
{{- $ctx := .ctx -}}
{{- $c := index $ctx.Values .component -}}
{{ include "herald.commonEnv" $ctx }}
{{- include "herald.natsAuthEnv" . }}
{{- if eq .component "connector" }}
- name: PORT
  value: {{ $c.port | quote }}
{{- include "herald.authEnv" $ctx }}
{{- end }}
{{- range $name := keys .env | sortAlpha }}
{{- $value := index $.env $name }}
{{- /* YAML numbers arrive as floats; print whole ones without an exponent. */}}
{{- if and (kindIs "float64" $value) (eq (float64 (int64 $value)) $value) }}{{ $value = int64 $value }}{{ end }}
{{- if ne (toString $value) "" }}
- name: {{ $name }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- with $c.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Content of the chart-created JWT Secret (development only), for the checksum. */}}
{{- define "herald.jwtSecretData" -}}
{{- if and .Values.auth.createSecret (not .Values.auth.existingSecret) -}}
{{ .Values.auth.createSecret }}
{{- end -}}
{{- end -}}

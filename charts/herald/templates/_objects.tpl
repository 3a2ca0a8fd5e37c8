{{/* Service of a component: the admin port always, the public WebSocket port for the connector. */}}
{{- define "herald.service" -}}
{{- $ctx := .ctx -}}
{{- $c := index $ctx.Values .component -}}
{{- $isConnector := eq .component "connector" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
  {{- if and $isConnector $c.service.annotations }}
  annotations:
    {{- toYaml $c.service.annotations | nindent 4 }}
  {{- end }}
spec:
  type: {{ if $isConnector }}{{ $c.service.type }}{{ else }}ClusterIP{{ end }}
  selector:
    {{- include "herald.selectorLabels" . | nindent 4 }}
  ports:
    {{- if $isConnector }}
    - name: ws
      port: {{ $c.service.port }}
      targetPort: ws
      protocol: TCP
    {{- end }}
    - name: admin
      port: {{ $ctx.Values.config.adminPort }}
      targetPort: admin
      protocol: TCP
{{- end -}}

{{/* HorizontalPodAutoscaler of a component (CPU; the connector can add its connection count). */}}
{{- define "herald.hpa" -}}
{{- $ctx := .ctx -}}
{{- $a := (index $ctx.Values .component).autoscaling -}}
{{- if $a.enabled -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "herald.componentName" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    {{- if $a.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- end }}
    {{- if and $a.connections $a.connections.enabled }}
    # Served by a custom metrics adapter (e.g. prometheus-adapter) from the gauge herald_connector_connections.
    - type: Pods
      pods:
        metric:
          name: herald_connector_connections
        target:
          type: AverageValue
          averageValue: {{ $a.connections.averageValue | quote }}
    {{- end }}
  behavior:
    scaleDown:
      # Scaling a connector down disconnects its clients (they reconnect elsewhere): do it slowly.
      stabilizationWindowSeconds: 300
      policies:
        - type: Pods
          value: 1
          periodSeconds: 60
{{- end -}}
{{- end -}}

{{/* PodDisruptionBudget of a component. */}}
{{- define "herald.pdb" -}}
{{- $ctx := .ctx -}}
{{- $p := (index $ctx.Values .component).pdb -}}
{{- if $p.enabled -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
spec:
  {{- if ne (toString $p.minAvailable) "" }}
  minAvailable: {{ $p.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $p.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "herald.selectorLabels" . | nindent 6 }}
{{- end -}}
{{- end -}}

{{/*
NetworkPolicy of a component. Ingress: the admin port from the monitoring namespace; for the connector, the
public port from the ingress controller only (or from anywhere with allowExternal), and from this release's
`helm test` pod. Egress: NATS and DNS, plus extraEgress.
*/}}
{{- define "herald.networkPolicy" -}}
{{- $ctx := .ctx -}}
{{- $np := $ctx.Values.networkPolicy -}}
{{- if $np.enabled -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "herald.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    - from:
        - namespaceSelector:
            {{- toYaml $np.monitoring.namespaceSelector | nindent 12 }}
          podSelector:
            {{- toYaml $np.monitoring.podSelector | nindent 12 }}
      ports:
        - port: admin
          protocol: TCP
    {{- if eq .component "connector" }}
    - ports:
        - port: ws
          protocol: TCP
      {{- if not $np.allowExternal }}
      from:
        - namespaceSelector:
            {{- toYaml $np.ingressController.namespaceSelector | nindent 12 }}
          podSelector:
            {{- toYaml $np.ingressController.podSelector | nindent 12 }}
        - podSelector:
            matchLabels:
              {{- include "herald.selectorLabels" (dict "ctx" $ctx "component" "test") | nindent 14 }}
      {{- end }}
    {{- end }}
  egress:
    - to:
        - podSelector:
            {{- toYaml $np.nats.podSelector | nindent 12 }}
          {{- with $np.nats.namespaceSelector }}
          namespaceSelector:
            {{- toYaml . | nindent 12 }}
          {{- end }}
      ports:
        {{- range $np.nats.ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    - to:
        - namespaceSelector: {}
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    {{- with $np.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
{{- end -}}

{{/* ServiceMonitor of a component (admin port, /metrics). */}}
{{- define "herald.serviceMonitor" -}}
{{- $ctx := .ctx -}}
{{- $sm := $ctx.Values.metrics.serviceMonitor -}}
{{- if $sm.enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "herald.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ $ctx.Release.Namespace }}
  endpoints:
    - port: admin
      path: /metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
{{- end -}}
{{- end -}}

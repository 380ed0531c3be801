{{/*
Shared helpers. Every per-component object (Deployment, Service, PDB, HPA,
NetworkPolicy) is rendered by a helper here from a context built by
"portico.ctx": {root, name, c}, where c is the component's values merged over
.Values.componentDefaults.
*/}}

{{- define "portico.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "portico.fullname" -}}
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

{{- define "portico.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object of the release. */}}
{{- define "portico.labels" -}}
helm.sh/chart: {{ include "portico.chart" . }}
app.kubernetes.io/name: {{ include "portico.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portico
{{- end }}

{{/* Selects every pod of the release. */}}
{{- define "portico.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "portico.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The merged values of one component: call with (dict "root" $ "name" $name). */}}
{{- define "portico.ctx" -}}
{{- $raw := index .root.Values.components .name | default dict }}
{{- $c := mergeOverwrite (deepCopy .root.Values.componentDefaults) (deepCopy $raw) }}
{{- toYaml (dict "name" .name "c" $c) }}
{{- end }}

{{/* <fullname>-<component>, e.g. portico-rollout. */}}
{{- define "portico.componentFullname" -}}
{{- printf "%s-%s" (include "portico.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "portico.componentSelectorLabels" -}}
{{ include "portico.releaseSelectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "portico.componentLabels" -}}
{{ include "portico.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "portico.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "portico.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "portico.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "portico.secretName" -}}
{{- default (printf "%s-secrets" (include "portico.fullname" .)) .Values.secret.existingSecret }}
{{- end }}

{{/*
The Secret with one nkey seed per NATS identity (keys: the identity names),
made by the operator from `portico nats-config`; the chart never holds seeds.
*/}}
{{- define "portico.natsIdentitiesSecret" -}}
{{- required "nats.identitiesSecret is required: the name of a Secret holding each NATS identity's nkey seed (keys auth, tenancy, security, compat, rollout, slo, provisioner); `portico nats-config` writes the seeds and prints the command that creates it (deploy/README.md, NATS identities)" .Values.nats.identitiesSecret }}
{{- end }}

{{/* The Secret's key for one service's own database URL: PORTICO_<SERVICE>_DATABASE_URL. */}}
{{- define "portico.databaseUrlKey" -}}
{{- printf "PORTICO_%s_DATABASE_URL" (upper .) }}
{{- end }}

{{/* The Secret's key for one service's outbox LISTEN URL (optional): PORTICO_<SERVICE>_DATABASE_LISTEN_URL. */}}
{{- define "portico.databaseListenUrlKey" -}}
{{- printf "PORTICO_%s_DATABASE_LISTEN_URL" (upper .) }}
{{- end }}

{{/* The Secret's key for one service's own client secret at auth: PORTICO_<SERVICE>_CLIENT_SECRET. */}}
{{- define "portico.clientSecretKey" -}}
{{- printf "PORTICO_%s_CLIENT_SECRET" (upper .) }}
{{- end }}

{{/* The services that call others under their own client at auth (all but auth). */}}
{{- define "portico.clientServices" -}}
{{- $out := list }}
{{- range $svc := include "portico.grpcComponents" . | fromJsonArray }}
{{- if ne $svc "auth" }}{{- $out = append $out $svc }}{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{- define "portico.configMapName" -}}
{{- printf "%s-config" (include "portico.fullname" .) }}
{{- end }}

{{/* host:port of a gRPC component inside the cluster. */}}
{{- define "portico.grpcTarget" -}}
{{- printf "%s.%s.svc:%v" (include "portico.componentFullname" .) .root.Release.Namespace .root.Values.config.grpcPort }}
{{- end }}

{{- define "portico.grpcComponents" -}}
{{- $out := list }}
{{- range $name := keys .Values.components | sortAlpha }}
{{- $ctx := fromYaml (include "portico.ctx" (dict "root" $ "name" $name)) }}
{{- if and $ctx.c.enabled (eq $ctx.c.kind "grpc") }}
{{- $out = append $out $name }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* ---------------------------------------------------------------- probes */}}

{{- define "portico.probe" -}}
{{- $p := .probe }}
{{- if eq .c.kind "grpc" }}
# gRPC probes take a port number, not a port name.
grpc:
  port: {{ .grpcPort }}
  service: {{ .service | quote }}
{{- else }}
httpGet:
  path: {{ .c.healthPath | default "/healthz" }}
  port: http
{{- end }}
periodSeconds: {{ $p.periodSeconds }}
timeoutSeconds: {{ $p.timeoutSeconds }}
failureThreshold: {{ $p.failureThreshold }}
{{- end }}

{{/* ------------------------------------------------------------ Deployment */}}

{{- define "portico.deployment" -}}
{{- $root := .root }}
{{- $c := .c }}
{{- $fullname := include "portico.componentFullname" . }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "portico.componentLabels" . | nindent 4 }}
spec:
  {{- if not $c.autoscaling.enabled }}
  replicas: {{ $c.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  selector:
    matchLabels:
      {{- include "portico.componentSelectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "portico.componentLabels" . | nindent 8 }}
        {{- with $c.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # Roll the pods when their settings change.
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        {{- if not $root.Values.secret.existingSecret }}
        checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
        {{- end }}
        {{- if $root.Values.metrics.podAnnotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ eq $c.kind "grpc" | ternary $root.Values.config.metricsPort $c.httpPort | quote }}
        prometheus.io/path: /metrics
        {{- end }}
        {{- with $c.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "portico.serviceAccountName" $root }}
      automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $c.terminationGracePeriodSeconds }}
      {{- if $c.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "portico.componentSelectorLabels" . | nindent 14 }}
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "portico.componentSelectorLabels" . | nindent 14 }}
      {{- end }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $c.affinity }}
      affinity:
        {{- toYaml $c.affinity | nindent 8 }}
      {{- else if $c.antiAffinity }}
      # Replicas of one component on different nodes, so one node's loss (or
      # drain) never takes them all.
      affinity:
        podAntiAffinity:
          {{- if eq $c.antiAffinity "required" }}
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector:
                matchLabels:
                  {{- include "portico.componentSelectorLabels" . | nindent 18 }}
          {{- else }}
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "portico.componentSelectorLabels" . | nindent 20 }}
          {{- end }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "portico.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: ["python", "-m", {{ $c.module | quote }}]
          ports:
            {{- if eq $c.kind "grpc" }}
            - name: grpc
              containerPort: {{ $root.Values.config.grpcPort }}
              protocol: TCP
            - name: metrics
              containerPort: {{ $root.Values.config.metricsPort }}
              protocol: TCP
            {{- else }}
            # Serves /metrics too.
            - name: http
              containerPort: {{ $c.httpPort }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "portico.configMapName" $root }}
          env:
            {{- if eq $c.kind "grpc" }}
            # The gateway holds no credentials: it only talks to the services.
            # Each service gets its own database role, never the migrator's.
            - name: PORTICO_DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "portico.secretName" $root }}
                  key: {{ include "portico.databaseUrlKey" .name }}
            # Behind PgBouncer, the outbox relay's LISTEN goes straight to PostgreSQL
            # when the Secret has this key (PORTICO_DATABASE_LISTEN_URL); else it polls.
            - name: PORTICO_DATABASE_LISTEN_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "portico.secretName" $root }}
                  key: {{ include "portico.databaseListenUrlKey" .name }}
                  optional: true
            {{- end }}
            {{- if and (eq $c.kind "grpc") (not $root.Values.nats.url) }}
            - name: PORTICO_NATS_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "portico.secretName" $root }}
                  key: PORTICO_NATS_URL
            {{- end }}
            {{- if eq $c.kind "grpc" }}
            # Signs in to NATS as this component alone (its own key of the
            # identities Secret) and only binds to what the provisioner made.
            - name: PORTICO_NATS_NKEY_SEED
              valueFrom:
                secretKeyRef:
                  name: {{ include "portico.natsIdentitiesSecret" $root }}
                  key: {{ .name }}
            - name: PORTICO_NATS_PROVISIONED
              value: "true"
            {{- end }}
            {{- if and (eq $c.kind "grpc") (ne .name "auth") }}
            # Its own client at auth, for the calls it makes to other services.
            - name: PORTICO_AUTH_CLIENT_ID
              value: svc-{{ .name }}
            - name: PORTICO_AUTH_CLIENT_SECRET
              valueFrom:
                secretKeyRef:
                  name: {{ include "portico.secretName" $root }}
                  key: {{ include "portico.clientSecretKey" .name }}
            {{- end }}
            {{- if eq .name "slo" }}
            # Seals alert channels' secrets at rest: keep it.
            - name: PORTICO_SLO_CHANNEL_SECRET_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ include "portico.secretName" $root }}
                  key: PORTICO_SLO_CHANNEL_SECRET_KEY
            {{- end }}
            {{- if eq .name "tenancy" }}
            # The key-encryption key that wraps tenants' data keys: keep it.
            - name: PORTICO_TENANCY_KMS
              value: local
            - name: PORTICO_TENANCY_KMS_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ include "portico.secretName" $root }}
                  key: PORTICO_TENANCY_KMS_KEY
            {{- end }}
            {{- if eq .name "auth" }}
            # Every service's own client (svc-<service>), upserted by auth on start.
            - name: PORTICO_AUTH_SERVICE_CLIENT_SECRETS
              valueFrom:
                secretKeyRef:
                  name: {{ include "portico.secretName" $root }}
                  key: PORTICO_AUTH_SERVICE_CLIENT_SECRETS
            - name: PORTICO_AUTH_ADMIN_CLIENT_SECRET
              valueFrom:
                secretKeyRef:
                  name: {{ include "portico.secretName" $root }}
                  key: PORTICO_AUTH_ADMIN_CLIENT_SECRET
            - name: PORTICO_AUTH_KEY_ENCRYPTION_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ include "portico.secretName" $root }}
                  key: PORTICO_AUTH_KEY_ENCRYPTION_KEY
            {{- end }}
            {{- if eq $c.kind "http" }}
            - name: PORTICO_GATEWAY_HOST
              value: "0.0.0.0"
            - name: PORTICO_GATEWAY_PORT
              value: {{ $c.httpPort | quote }}
            {{- range $svc := include "portico.grpcComponents" $root | fromJsonArray }}
            - name: PORTICO_GATEWAY_{{ upper $svc }}_TARGET
              value: {{ include "portico.grpcTarget" (dict "root" $root "name" $svc) | quote }}
            {{- end }}
            {{- end }}
            - name: OTEL_SERVICE_NAME
              value: portico-{{ .name }}
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: OTEL_RESOURCE_ATTRIBUTES
              value: "k8s.pod.name=$(POD_NAME),k8s.namespace.name={{ $root.Release.Namespace }},service.namespace=portico"
            {{- range $k, $v := $c.env }}
            - name: {{ $k }}
              value: {{ $v | quote }}
            {{- end }}
          startupProbe:
            {{- include "portico.probe" (dict "c" $c "probe" $c.probes.startup "grpcPort" $root.Values.config.grpcPort "service" $c.probes.grpcService) | nindent 12 }}
          readinessProbe:
            {{- include "portico.probe" (dict "c" $c "probe" $c.probes.readiness "grpcPort" $root.Values.config.grpcPort "service" $c.probes.grpcService) | nindent 12 }}
          livenessProbe:
            {{- include "portico.probe" (dict "c" $c "probe" $c.probes.liveness "grpcPort" $root.Values.config.grpcPort "service" $c.probes.livenessGrpcService) | nindent 12 }}
          {{- if $c.preStopSleepSeconds }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", {{ $c.preStopSleepSeconds | quote }}]
          {{- end }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $root.Values.tmpVolume.sizeLimit }}
{{- end }}

{{/* --------------------------------------------------------------- Service */}}

{{- define "portico.service" -}}
{{- $root := .root }}
{{- $c := .c }}
{{- $svc := $c.service | default dict }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "portico.componentFullname" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "portico.componentLabels" . | nindent 4 }}
  {{- with $svc.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $svc.type | default "ClusterIP" }}
  selector:
    {{- include "portico.componentSelectorLabels" . | nindent 4 }}
  ports:
    {{- if eq $c.kind "grpc" }}
    - name: grpc
      port: {{ $root.Values.config.grpcPort }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    {{- else }}
    - name: http
      port: {{ $svc.port | default 80 }}
      targetPort: http
      protocol: TCP
      appProtocol: http
    {{- end }}
    # Same port name on every component, so one ServiceMonitor endpoint fits all.
    - name: metrics
      port: {{ $root.Values.config.metricsPort }}
      targetPort: {{ eq $c.kind "grpc" | ternary "metrics" "http" }}
      protocol: TCP
      appProtocol: http
{{- end }}

{{/* --------------------------------------------------- PodDisruptionBudget */}}

{{- define "portico.pdb" -}}
{{- $pdb := .c.podDisruptionBudget }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "portico.componentFullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "portico.componentLabels" . | nindent 4 }}
spec:
  {{- if hasKey $pdb "minAvailable" }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable | default 1 }}
  {{- end }}
  # A crash-looping pod must not block node drains.
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "portico.componentSelectorLabels" . | nindent 6 }}
{{- end }}

{{/* ------------------------------------------------ HorizontalPodAutoscaler */}}

{{- define "portico.hpa" -}}
{{- $a := .c.autoscaling }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "portico.componentFullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "portico.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "portico.componentFullname" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- with $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
{{- end }}

{{/* --------------------------------------------------------- NetworkPolicy */}}

{{- define "portico.networkPolicy" -}}
{{- $root := .root }}
{{- $c := .c }}
{{- $np := $root.Values.networkPolicy }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "portico.componentFullname" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "portico.componentLabels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "portico.componentSelectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if $np.egress.enabled }}
    - Egress
    {{- end }}
  ingress:
    {{- if eq $c.kind "grpc" }}
    # gRPC from the other Portico components of this release.
    - from:
        - podSelector:
            matchLabels:
              {{- include "portico.releaseSelectorLabels" $root | nindent 14 }}
      ports:
        - port: grpc
          protocol: TCP
    {{- else }}
    # The gateway's HTTP port, from gatewayFrom (empty = from anywhere).
    - ports:
        - port: http
          protocol: TCP
      {{- with $np.gatewayFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    - ports:
        - port: {{ eq $c.kind "grpc" | ternary "metrics" "http" }}
          protocol: TCP
      {{- with $np.metricsFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  {{- if $np.egress.enabled }}
  egress:
    # DNS.
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
    # gRPC to the other Portico components.
    - to:
        - podSelector:
            matchLabels:
              {{- include "portico.releaseSelectorLabels" $root | nindent 14 }}
      ports:
        - port: {{ $root.Values.config.grpcPort }}
          protocol: TCP
    {{- if eq $c.kind "grpc" }}
    # NATS and PostgreSQL (the gateway uses neither).
    - ports:
        - port: {{ $np.egress.nats.port }}
          protocol: TCP
      {{- with $np.egress.nats.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    - ports:
        - port: {{ $np.egress.postgres.port }}
          protocol: TCP
      {{- with $np.egress.postgres.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- with $np.egress.extra }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}

# The chat node image: docker build -t chatnode:latest .   (from the repository root)
# k8s/chatnode.yaml runs it; scripts/deploy-check/check.mjs checks this file and the manifests offline.

# ---------------------------------------------------------------- build
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Restore first, from the project files and the shared props only, so that this layer stays cached until a
# dependency changes. The projects are ChatNode and what it references (Protos, Auth, Storage, Registry).
COPY Directory.Build.props Directory.Packages.props ./
COPY ChatNode/ChatNode.csproj ChatNode/
COPY Protos/Protos.csproj Protos/
COPY Auth/Auth.csproj Auth/
COPY Storage/Storage.csproj Storage/
COPY Registry/Registry.csproj Registry/
RUN dotnet restore ChatNode/ChatNode.csproj

# The sources (.dockerignore keeps the host's bin/ and obj/ out) and the analyzer settings the build enforces.
COPY .editorconfig ./
COPY ChatNode/ ChatNode/
COPY Protos/ Protos/
COPY Auth/ Auth/
COPY Storage/ Storage/
COPY Registry/ Registry/
RUN dotnet publish ChatNode/ChatNode.csproj -c Release -o /app --no-restore --nologo -p:UseAppHost=false

# ---------------------------------------------------------------- runtime
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .

# The non-root user of the .NET images (uid 1654); k8s/chatnode.yaml runs the pod as it.
USER $APP_UID

# 8080: WebSockets and HTTP (Node:Listen); 9080: node-to-node gRPC (Node:PeerListen). The node's defaults listen on
# 127.0.0.1 only: set Node__Listen=http://0.0.0.0:8080 and Node__PeerListen=http://0.0.0.0:9080 (the ConfigMap in
# k8s/ does) to reach it from outside the container.
EXPOSE 8080 9080

# GET /healthz over bash's /dev/tcp: the aspnet image (Ubuntu) has bash but neither curl nor wget, and installing
# one only for this would add a package to patch. Healthy = the status line is 200; a refused connection, a timeout
# or any other status is unhealthy. Kubernetes ignores HEALTHCHECK and uses the probes in k8s/chatnode.yaml.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 2 status <&3 && [[ $status == 'HTTP/1.1 200 '* ]]"]

ENTRYPOINT ["dotnet", "ChatNode.dll"]
CMD ["serve"]

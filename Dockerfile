# Build: docker build -t <registry>/costreport:<version> . && docker push <registry>/costreport:<version>
# The chart runs this image with explicit arguments (operator; serve --auth kubernetes).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir . && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin costreport
USER 10001
EXPOSE 9003 8080
ENTRYPOINT ["costreport"]
# The default starts anywhere: the sample cluster's API on the container's loopback, reachable
# with `kubectl port-forward` or `docker run --network host`; it never serves costs
# unauthenticated on a reachable address.
CMD ["serve", "--host", "127.0.0.1", "--port", "9003"]

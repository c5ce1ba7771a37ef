FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir . && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin costreport
USER 10001
EXPOSE 9003 8080
ENTRYPOINT ["costreport"]
CMD ["serve", "--host", "0.0.0.0"]

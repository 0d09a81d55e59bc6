FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# The build context is the source tree minus .dockerignore (no .env, keys, databases, venvs).
COPY . .
# One list of build steps, shared with CI's production smoke stage (.ci/smoke/run):
# `pip install .` and collectstatic with production settings.
RUN sh deploy/build.sh
RUN useradd --create-home app && chown -R app /app \
    && mkdir -p /var/lib/crewbuilder/metrics && chown app /var/lib/crewbuilder/metrics
USER app
EXPOSE 8000
CMD ["gunicorn", "-c", "crewbuilder/gunicorn.conf.py", "crewbuilder.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]

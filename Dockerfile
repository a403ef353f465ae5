FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements/ requirements/
RUN pip install -r requirements/base.txt && pip install --no-deps -r requirements/nodeps.txt
COPY . .
# The service writes its SQLite database (when no DATABASE_URL is set) and media under var/.
RUN mkdir -p var/media

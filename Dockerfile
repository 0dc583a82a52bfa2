FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings that import without production secrets.
RUN DEBUG=false SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

RUN useradd --create-home cxhub
USER cxhub
EXPOSE 8000
# Sync workers, four per core (WEB_CONCURRENCY overrides): cxhub/gunicorn.py.
CMD ["gunicorn", "cxhub.wsgi", "--config", "python:cxhub.gunicorn", "--access-logfile", "-"]

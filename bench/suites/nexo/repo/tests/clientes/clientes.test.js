'use strict';

const { api } = require('../helpers/api');
const { resetDatabase, GLOBEX } = require('../helpers/fixtures');

beforeEach(resetDatabase);

describe('GET /api/clientes', () => {
  test('lista solo los clientes del tenant', async () => {
    const res = await api().get('/api/clientes');
    expect(res.status).toBe(200);
    expect(res.body.data.map((cliente) => cliente.id)).toEqual([1, 2]);
  });

  test('401 sin cabecera X-Tenant-Id', async () => {
    const res = await api(null).get('/api/clientes');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
  });
});

describe('GET /api/clientes/:id', () => {
  test('200 con el cliente', async () => {
    const res = await api().get('/api/clientes/1');
    expect(res.status).toBe(200);
    expect(res.body.nombre).toBe('Ferretería López');
  });

  test('404 si no existe', async () => {
    const res = await api().get('/api/clientes/999');
    expect(res.status).toBe(404);
  });

  test('403 si es de otro tenant', async () => {
    const res = await api(GLOBEX).get('/api/clientes/1');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
  });

  test('400 si el id no es un entero', async () => {
    const res = await api().get('/api/clientes/abc');
    expect(res.status).toBe(400);
  });
});

describe('POST /api/clientes', () => {
  test('201 con el cliente creado en el tenant', async () => {
    const res = await api().post('/api/clientes').send({ nombre: 'Panadería Sol', nif: '87654321X', email: 'Pan@Sol.es' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ nombre: 'Panadería Sol', nif: '87654321X', email: 'pan@sol.es', tenantId: 'acme' });
  });

  test('400 si falta el nombre', async () => {
    const res = await api().post('/api/clientes').send({ nif: '87654321X' });
    expect(res.status).toBe(400);
    expect(res.body.error.campo).toBe('nombre');
  });

  test('409 si el NIF ya existe en el tenant', async () => {
    const res = await api().post('/api/clientes').send({ nombre: 'Otra', nif: '12345678Z' });
    expect(res.status).toBe(409);
  });
});

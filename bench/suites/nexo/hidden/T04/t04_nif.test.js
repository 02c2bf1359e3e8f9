'use strict';

const { api } = require('../tests/helpers/api');
const { resetDatabase, GLOBEX } = require('../tests/helpers/fixtures');

beforeEach(resetDatabase);

function alta(nif, tenant) {
  return api(tenant).post('/api/clientes').send({ nombre: 'Cliente de prueba', nif });
}

describe('T04 validación del NIF en POST /api/clientes', () => {
  test.each([
    ['87654321X', '87654321X'],
    [' 87.654.321-x ', '87654321X'],
    ['00000000T', '00000000T'],
    ['X1234567L', 'X1234567L'],
    ['y-1234567-x', 'Y1234567X'],
    ['Z1234567R', 'Z1234567R'],
    ['B98765432', 'B98765432'],
    ['b-9876543-j', 'B9876543J'],
    ['N 1234567 A', 'N1234567A'],
  ])('acepta %j y lo guarda como %s', async (nif, guardado) => {
    const res = await alta(nif);
    expect(res.status).toBe(201);
    expect(res.body.nif).toBe(guardado);
    const leido = await api().get(`/api/clientes/${res.body.id}`);
    expect(leido.body.nif).toBe(guardado);
  });

  test.each([
    ['87654321A', 'letra de control del DNI incorrecta'],
    ['1234567Z', 'DNI de 7 dígitos'],
    ['123456789Z', 'DNI de 9 dígitos'],
    ['X1234567A', 'letra de control del NIE incorrecta'],
    ['T1234567A', 'letra inicial que no es de NIE ni de CIF'],
    ['B9876543K', 'CIF con carácter de control fuera de 0-9 y A-J'],
    ['I1234567A', 'CIF con letra de sociedad no válida'],
    ['B123456A', 'CIF de 6 dígitos'],
    ['ABC123', 'sin formato'],
  ])('400 con %j (%s)', async (nif) => {
    const res = await alta(nif);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', campo: 'nif' });
  });

  test('400 si falta el NIF', async () => {
    const res = await api().post('/api/clientes').send({ nombre: 'Cliente de prueba' });
    expect(res.status).toBe(400);
    expect(res.body.error.campo).toBe('nif');
  });

  test('409 si el NIF, una vez normalizado, ya existe en el tenant', async () => {
    expect((await alta('12.345.678-z')).status).toBe(409);
  });

  test('otro tenant puede dar de alta el mismo NIF', async () => {
    expect((await alta('b-1234567-4', GLOBEX)).status).toBe(201);
  });
});

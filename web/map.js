// boucle's map page: the open data of /ogc (streets, communes, open offers and requests, hubs
// and yards) and, with an API key pasted into the page, the organization's own rows and route
// plans from /v1. The key stays in this tab's sessionStorage and goes only to this origin's /v1.

import * as maplibregl from './maplibre-gl/maplibre-gl.mjs';

const OGC = '/ogc/collections';
const KEY_STORAGE = 'boucle.apiKey';
const PAGE = 500; // the API's largest page
const BRUSSELS = [[4.2437, 50.7637], [4.4826, 50.9138]];
const OSM = '© OpenStreetMap contributors';
const SUPPRESSED = 'hidden (it could tell a company’s volumes)';
const NO_COLOUR = '#8a8f98';

// One colour per EWC chapter, far enough apart to tell side by side on a street map.
const CHAPTER_COLOURS = {
  '01': '#7f3c8d', '02': '#11a579', '03': '#3969ac', '04': '#f2b701', '05': '#e73f74',
  '06': '#80ba5a', '07': '#e68310', '08': '#008695', '09': '#cf1c90', '10': '#f97b72',
  '11': '#4b4b8f', '12': '#a5aa99', '13': '#66c5cc', '14': '#b68e00', '15': '#2e7d32',
  '16': '#9c5b2d', '17': '#d62728', '18': '#1f77b4', '19': '#8c6d31', '20': '#e377c2',
};
const ROUTE_COLOURS = ['#1565c0', '#d81b60', '#2e7d32', '#ef6c00', '#6a1b9a', '#00838f', '#5d4037', '#c0ca33'];
const MATCH_COLOURS = { proposed: '#8a8f98', accepted: '#2e7d32', fulfilled: '#1565c0' };
const CHOROPLETH = ['#edf8e9', '#74c476', '#006d2c'];

// osm2pgrouting's classes, drawn as a street map draws them.
const MAJOR = ['motorway', 'motorway_link', 'motorway_junction', 'trunk', 'trunk_link', 'primary', 'primary_link'];
const MIDDLE = ['secondary', 'secondary_link', 'tertiary', 'tertiary_link'];
const MINOR = ['residential', 'living_street', 'unclassified', 'road', 'service', 'services'];
const CYCLE = ['cycleway', 'lane', 'opposite_lane', 'opposite'];
const FOOT = ['footway', 'pedestrian', 'path', 'steps', 'track', 'bridleway', 'byway', 'bus_guideway'];

const status = document.getElementById('status');
const ready = {};
window.boucleMapReady = new Promise((resolve, reject) => Object.assign(ready, { resolve, reject }));

// DOM made from text only: nothing the API answers is read as HTML.
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  node.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return node;
}

function number(value) {
  if (value === null || value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function format(value, digits = 1) {
  return value.toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function tonnes(value) {
  return value === null ? SUPPRESSED : `${format(value, value < 10 ? 2 : 1)} t`;
}

// The API answers local times in Brussels with their offset: the clock time is in the text.
function clock(iso) {
  return el('time', { datetime: iso }, iso.slice(11, 16));
}

function chapterColour(chapter) {
  return CHAPTER_COLOURS[chapter] ?? NO_COLOUR;
}

async function problem(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || `${response.status}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

async function getJson(url, headers = {}) {
  const response = await fetch(url, { headers: { Accept: 'application/json, application/geo+json', ...headers } });
  if (!response.ok) throw new Error(`${new URL(url, location.href).pathname}: ${await problem(response)}`);
  return response.json();
}

// Every page of a list (GeoJSON features or JSON items), following its `next` links.
async function fetchAll(url, get = getJson) {
  const items = [];
  for (let next = url; next; ) {
    const page = await get(next);
    items.push(...(page.features ?? page.items ?? []));
    next = page.links?.find((link) => link.rel === 'next')?.href;
  }
  return items;
}

// A getter that sends the key, and only to this origin's /v1 API.
function withKey(key) {
  return (url) => {
    const target = new URL(url, location.href);
    if (target.origin !== location.origin || !target.pathname.startsWith('/v1/')) {
      throw new Error(`refused to send the key to ${target.origin}${target.pathname}`);
    }
    return getJson(target, { Authorization: `Bearer ${key}` });
  };
}

function collection(features) {
  return { type: 'FeatureCollection', features };
}

function publicPoints(features, kind) {
  return features.map((f) => ({
    ...f,
    properties: { ...f.properties, kind, colour: chapterColour(f.properties.chapter) },
  }));
}

function communeFeatures(features) {
  // A suppressed figure has no `accepted_t`: the style tells it by its absence.
  return features.map((f) => {
    const { accepted_t: accepted, ...rest } = f.properties;
    const value = number(accepted);
    return { ...f, properties: value === null ? rest : { ...rest, accepted_t: value } };
  });
}

function hatch() {
  const size = 12;
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      const on = (x + y) % size < 2;
      data.set(on ? [120, 124, 132, 170] : [255, 255, 255, 60], (y * size + x) * 4);
    }
  }
  return { width: size, height: size, data };
}

function roadLayers(layer) {
  const byClass = (classes) => ['in', ['get', 'class'], ['literal', classes]];
  const width = (low, high) => ['interpolate', ['exponential', 1.6], ['zoom'], 11, low, 17, high];
  const line = (id, classes, paint, minzoom = 0) => ({
    id, type: 'line', source: 'roads', 'source-layer': layer, minzoom, filter: byClass(classes),
    layout: { 'line-join': 'round', 'line-cap': 'round' }, paint,
  });
  return [
    line('roads-foot', FOOT, { 'line-color': '#b8a68f', 'line-width': width(0.4, 1.6), 'line-dasharray': [2, 1.5] }, 14),
    line('roads-cycle', CYCLE, { 'line-color': '#3a9d5d', 'line-width': width(0.6, 2.4), 'line-dasharray': [3, 1.5] }, 13),
    line('roads-minor-casing', MINOR, { 'line-color': '#c9c3b8', 'line-width': width(0.8, 9) }, 12.5),
    line('roads-minor', MINOR, { 'line-color': '#ffffff', 'line-width': width(0.4, 7) }, 12.5),
    line('roads-middle-casing', MIDDLE, { 'line-color': '#c7a86a', 'line-width': width(1.4, 12) }),
    line('roads-middle', MIDDLE, { 'line-color': '#fbe3a6', 'line-width': width(0.8, 10) }),
    line('roads-major-casing', MAJOR, { 'line-color': '#c77d3a', 'line-width': width(2, 15) }),
    line('roads-major', MAJOR, { 'line-color': '#f7b267', 'line-width': width(1.2, 12.5) }),
  ];
}

function pointLayers(source, { ring, radius = 6, halo = false }) {
  const grow = (r) => ['interpolate', ['linear'], ['zoom'], 11, r, 16, r * 1.8];
  const layers = [];
  if (halo) {
    layers.push({
      id: `${source}-halo`, type: 'circle', source,
      paint: { 'circle-radius': grow(radius + 4), 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#111', 'circle-stroke-width': 2 },
    });
  }
  layers.push({
    id: source, type: 'circle', source,
    paint: ring
      ? { 'circle-radius': grow(radius - 1), 'circle-color': '#ffffff', 'circle-stroke-color': ['get', 'colour'], 'circle-stroke-width': 3 }
      : { 'circle-radius': grow(radius), 'circle-color': ['get', 'colour'], 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1.5 },
  });
  return layers;
}

// The choropleth fades as one zooms in to the streets.
const AREA_OPACITY = ['interpolate', ['linear'], ['zoom'], 11, 0.75, 15, 0.3];

const SUPPRESSED_LAYER = {
  id: 'communes-suppressed', type: 'fill', source: 'communes', filter: ['!', ['has', 'accepted_t']],
  paint: { 'fill-pattern': 'suppressed-hatch', 'fill-opacity': AREA_OPACITY },
};

const LAYER_GROUPS = [
  { id: 'roads', label: 'Streets (OSM)', prefix: 'roads-' },
  { id: 'communes', label: 'Accepted tonnes per commune, by month', prefix: 'communes-' },
  { id: 'offers', label: 'Open offers', prefix: 'offers' },
  { id: 'requests', label: 'Open requests', prefix: 'requests' },
  { id: 'hubs', label: 'Hubs and yards', prefix: 'hubs' },
  { id: 'mine', label: 'Yours: offers, requests, matches', prefix: 'mine-', account: true },
  { id: 'plan', label: 'Route plan', prefix: 'plan-', account: true, markers: true },
];

function baseStyle(roadsTiles) {
  return {
    version: 8,
    sources: {
      roads: {
        type: 'vector',
        tiles: roadsTiles.tiles,
        bounds: roadsTiles.bounds ?? BRUSSELS.flat(),
        minzoom: 0,
        maxzoom: 16,
        attribution: OSM,
      },
      communes: { type: 'geojson', data: collection([]), attribution: OSM, promoteId: 'nis_code' },
      offers: { type: 'geojson', data: collection([]), promoteId: 'id' },
      requests: { type: 'geojson', data: collection([]), promoteId: 'id' },
      hubs: { type: 'geojson', data: collection([]), promoteId: 'id' },
      'mine-matches': { type: 'geojson', data: collection([]) },
      'mine-offers': { type: 'geojson', data: collection([]), promoteId: 'id' },
      'mine-requests': { type: 'geojson', data: collection([]), promoteId: 'id' },
      plan: { type: 'geojson', data: collection([]) },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#f3f0e8' } },
      {
        id: 'communes-fill', type: 'fill', source: 'communes', filter: ['has', 'accepted_t'],
        paint: { 'fill-color': CHOROPLETH[0], 'fill-opacity': AREA_OPACITY },
      },
      ...roadLayers(roadsTiles.layer),
      {
        id: 'communes-outline', type: 'line', source: 'communes',
        paint: { 'line-color': '#5b5466', 'line-width': ['interpolate', ['linear'], ['zoom'], 11, 1, 16, 2.5], 'line-dasharray': [3, 2] },
      },
      {
        id: 'mine-matches', type: 'line', source: 'mine-matches',
        layout: { 'line-cap': 'round' },
        paint: { 'line-color': ['get', 'colour'], 'line-width': 2.5, 'line-dasharray': [2, 1.5] },
      },
      ...pointLayers('hubs', { radius: 7 }),
      ...pointLayers('requests', { ring: true }),
      ...pointLayers('offers', {}),
      ...pointLayers('mine-requests', { ring: true, halo: true }),
      ...pointLayers('mine-offers', { halo: true }),
      {
        id: 'plan-routes-casing', type: 'line', source: 'plan', filter: ['==', ['get', 'feature'], 'route'],
        layout: { 'line-join': 'round', 'line-cap': 'round' },
        paint: { 'line-color': '#ffffff', 'line-width': ['interpolate', ['linear'], ['zoom'], 11, 5, 16, 10] },
      },
      {
        id: 'plan-routes', type: 'line', source: 'plan', filter: ['==', ['get', 'feature'], 'route'],
        layout: { 'line-join': 'round', 'line-cap': 'round' },
        paint: { 'line-color': ['get', 'colour'], 'line-width': ['interpolate', ['linear'], ['zoom'], 11, 3, 16, 6] },
      },
      {
        id: 'plan-stops', type: 'circle', source: 'plan', filter: ['==', ['get', 'feature'], 'stop'],
        paint: { 'circle-radius': 4, 'circle-color': ['get', 'colour'], 'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5 },
      },
      {
        id: 'plan-transfers', type: 'circle', source: 'plan', filter: ['==', ['get', 'feature'], 'transfer'],
        paint: { 'circle-radius': 11, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#111', 'circle-stroke-width': 3 },
      },
    ],
  };
}

// Hubs are darker than everything else; their own colour, not a chapter's.
function hubFeatures(features) {
  return features.map((f) => ({ ...f, properties: { ...f.properties, colour: f.properties.kind === 'yard' ? '#37474f' : '#000000' } }));
}

function paintChoropleth(map, communes) {
  const shown = communes.map((f) => f.properties.accepted_t).filter((v) => v !== undefined);
  const max = Math.max(0, ...shown);
  const top = max > 0 ? max : 1;
  map.setPaintProperty('communes-fill', 'fill-color', [
    'interpolate', ['linear'], ['get', 'accepted_t'], 0, CHOROPLETH[0], top / 2, CHOROPLETH[1], top, CHOROPLETH[2],
  ]);
  document.getElementById('choropleth-max').textContent = max > 0 ? `${format(max, max < 10 ? 2 : 0)} t` : '';
}

function chapterLegend(features) {
  const chapters = new Map();
  for (const { properties: p } of features) {
    if (p.chapter && !chapters.has(p.chapter)) chapters.set(p.chapter, p.chapter_title || `Chapter ${p.chapter}`);
  }
  const list = document.getElementById('chapter-legend');
  const items = [...chapters].sort(([a], [b]) => a.localeCompare(b)).map(([chapter, title]) => {
    const dot = el('i', { class: 'dot' });
    dot.style.background = chapterColour(chapter);
    return el('li', { 'data-chapter': chapter }, dot, el('b', {}, chapter), ` ${title}`);
  });
  list.replaceChildren(...(items.length ? items : [el('li', { class: 'note' }, 'No open offer or request.')]));
}

function popupTable(rows) {
  return el('dl', { class: 'popup-figures' }, rows.filter(Boolean).map(([term, value]) => el('div', {}, el('dt', {}, term), el('dd', {}, value))));
}

function quantity(value, unit) {
  const n = number(value);
  return n === null ? '' : `${format(n, n % 1 ? 2 : 0)} ${unit ?? ''}`.trim();
}

function offerPopup(p) {
  return el('div', { class: 'popup' },
    el('strong', {}, p.title || 'Offer'),
    el('p', { class: 'kind' }, `Offer · EWC ${p.material}${p.chapter_title ? ` · ${p.chapter_title}` : ''}`),
    popupTable([
      ['Left', quantity(p.remaining_value, p.quantity_unit) || quantity(p.quantity_value, p.quantity_unit)],
      ['Of', quantity(p.quantity_value, p.quantity_unit)],
      p.condition && ['Condition', p.condition],
      ['Available', `${p.available_from ?? ''} → ${p.available_until ?? 'open'}`],
    ]));
}

function requestPopup(p) {
  return el('div', { class: 'popup' },
    el('strong', {}, p.title || 'Request'),
    el('p', { class: 'kind' }, `Request · EWC ${p.material}${p.chapter_title ? ` · ${p.chapter_title}` : ''}`),
    popupTable([
      ['Still needed', quantity(p.remaining_value, p.quantity_unit)],
      ['Of', quantity(p.quantity_value, p.quantity_unit)],
      p.min_condition && ['Condition', `${p.min_condition} or better`],
      ['Needed', `${p.needed_from ?? ''} → ${p.needed_by ?? ''}`],
    ]));
}

function freeRoom(p) {
  const parts = [];
  const freeT = number(p.free_t);
  const freeM3 = number(p.free_m3);
  if (freeT !== null) parts.push(`${format(freeT, 1)} t of ${format(number(p.capacity_t), 0)} t`);
  if (freeM3 !== null) parts.push(`${format(freeM3, 1)} m³ of ${format(number(p.capacity_m3), 0)} m³`);
  return parts.length ? parts.join(' · ') : 'no capacity set';
}

function hubPopup(p) {
  return el('div', { class: 'popup' },
    el('strong', {}, p.name || 'Hub'),
    el('p', { class: 'kind' }, p.kind === 'yard' ? 'Yard' : 'Hub'),
    popupTable([
      ['Free room', el('span', { class: 'free-room' }, freeRoom(p))],
      ['In stock', `${format(number(p.stock_t) ?? 0, 1)} t`],
      // The operator publishes its stock rounded unless it chose to publish it exact.
      p.public_stock !== 'exact' && ['Figures', el('span', { class: 'rounding' }, 'rounded to the tonne')],
    ]));
}

function communePopup(p) {
  return el('div', { class: 'popup' },
    el('strong', {}, p.name_fr && p.name_nl && p.name_fr !== p.name_nl ? `${p.name_fr} · ${p.name_nl}` : p.name),
    el('p', { class: 'kind' }, `Published month ${p.month}`),
    popupTable([
      ['Accepted', tonnes(number(p.accepted_t))],
      ['Offered', tonnes(number(p.offered_t))],
      ['Requested', tonnes(number(p.requested_t))],
      ['Delivered', tonnes(number(p.fulfilled_t))],
    ]));
}

function ownPopup(p) {
  const title = p.title || (p.kind === 'offer' ? 'Your offer' : 'Your request');
  return el('div', { class: 'popup' },
    el('strong', {}, title),
    el('p', { class: 'kind' }, `Yours · ${p.kind} · EWC ${p.material} · ${p.status}`),
    popupTable([
      ['Left', quantity(p.remaining_value, p.quantity_unit)],
      ['Of', quantity(p.quantity_value, p.quantity_unit)],
    ]));
}

function matchPopup(p) {
  return el('div', { class: 'popup' },
    el('strong', {}, `Match · ${p.status}`),
    popupTable([['Quantity', p.quantity], ['Distance', `${format(p.distance_m / 1000, 1)} km`]]));
}

const POPUPS = {
  offers: offerPopup,
  requests: requestPopup,
  hubs: hubPopup,
  'communes-fill': communePopup,
  'communes-suppressed': communePopup,
  'mine-offers': ownPopup,
  'mine-requests': ownPopup,
  'mine-matches': matchPopup,
};

// Points first (yours before the public ones; a few when they lie close), else the commune.
const POINT_LAYERS = ['mine-offers', 'mine-requests', 'hubs', 'offers', 'requests', 'mine-matches'];
const AREA_LAYERS = ['communes-fill', 'communes-suppressed'];
const CLICK_SLACK_PX = 8; // a finger is wider than a dot

function bindPopups(map) {
  const popup = new maplibregl.Popup({ maxWidth: '300px' });
  const visible = (ids) => ids.filter((id) => map.getLayoutProperty(id, 'visibility') !== 'none');
  map.on('click', (event) => {
    // A click on a stop's marker is the marker's: it opens the stop's popup, not a commune's.
    if (event.originalEvent.target.closest?.('.maplibregl-marker')) return;
    const { x, y } = event.point;
    const near = [[x - CLICK_SLACK_PX, y - CLICK_SLACK_PX], [x + CLICK_SLACK_PX, y + CLICK_SLACK_PX]];
    const seen = new Set();
    const points = map.queryRenderedFeatures(near, { layers: visible(POINT_LAYERS) })
      .sort((a, b) => POINT_LAYERS.indexOf(a.layer.id) - POINT_LAYERS.indexOf(b.layer.id))
      .filter((f) => !seen.has(f.properties.id) && seen.add(f.properties.id))
      .slice(0, 4);
    const hits = points.length ? points : map.queryRenderedFeatures(event.point, { layers: visible(AREA_LAYERS) }).slice(0, 1);
    if (!hits.length) return;
    const content = el('div', { class: 'popups' }, hits.map((f) => POPUPS[f.layer.id](f.properties)));
    popup.setLngLat(event.lngLat).setDOMContent(content).addTo(map);
  });
  for (const id of POINT_LAYERS) {
    map.on('mouseenter', id, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', id, () => { map.getCanvas().style.cursor = ''; });
  }
}

const markers = [];

function layerToggles(map) {
  const box = document.getElementById('layer-toggles');
  for (const group of LAYER_GROUPS) {
    const input = el('input', { type: 'checkbox', id: `toggle-${group.id}`, 'data-group': group.id });
    input.checked = true;
    input.addEventListener('change', () => {
      const visibility = input.checked ? 'visible' : 'none';
      for (const layer of map.getStyle().layers) {
        if (layer.id.startsWith(group.prefix)) map.setLayoutProperty(layer.id, 'visibility', visibility);
      }
      if (group.markers) for (const marker of markers) marker.getElement().hidden = !input.checked;
    });
    box.append(el('label', { class: group.account ? 'account-only' : undefined, for: input.id }, input, ` ${group.label}`));
  }
}

// The communes of the latest month published: each month, once it has ended, is published
// once and for all; the open data holds one feature per commune per month.
async function latestCommunes() {
  const latest = await getJson(`${OGC}/ogc.communes/items?limit=1&sortby=-month&f=geojson`);
  const month = latest.features[0]?.properties.month;
  if (!month) return { month: null, communes: [] };
  const communes = await fetchAll(`${OGC}/ogc.communes/items?month=${encodeURIComponent(month)}&limit=100&f=geojson`);
  return { month, communes };
}

function choroplethMonth(month) {
  const label = document.getElementById('choropleth-month');
  label.dataset.month = month ?? '';
  label.textContent = month ?? 'no month published yet';
}

async function loadPublicLayers(map) {
  const items = (name) => fetchAll(`${OGC}/ogc.${name}/items?limit=1000&f=geojson`);
  const [{ month, communes }, offers, requests, hubs] = await Promise.all([latestCommunes(), ...['offers', 'requests', 'hubs'].map(items)]);
  const communeData = communeFeatures(communes);
  map.getSource('communes').setData(collection(communeData));
  paintChoropleth(map, communeData);
  choroplethMonth(month);
  map.getSource('offers').setData(collection(publicPoints(offers, 'offer')));
  map.getSource('requests').setData(collection(publicPoints(requests, 'request')));
  map.getSource('hubs').setData(collection(hubFeatures(hubs)));
  chapterLegend([...offers, ...requests]);
  return { offers, requests, hubs, communes };
}

// Settles once what was asked of the map is drawn: every tile and source loaded.
function idle(map) {
  return new Promise((resolve) => {
    map.once('idle', resolve);
    map.triggerRepaint();
  });
}

function ownPoints(features, kind, chapterTitles) {
  // Flat properties: MapLibre hands nested ones back to a click as JSON text.
  return features.map((f) => {
    const { quantity: q, remaining: left, ...p } = f.properties;
    const chapter = p.material.slice(0, 2);
    return {
      ...f,
      properties: {
        ...p, kind, chapter, chapter_title: chapterTitles.get(chapter), colour: chapterColour(chapter),
        quantity_value: q.value, quantity_unit: q.unit, remaining_value: left?.value,
      },
    };
  });
}

function placeOf(features) {
  return new Map(features.map((f) => [String(f.properties.id ?? f.id), f.geometry.coordinates]));
}

async function matchLines(matches, places, get) {
  const lines = [];
  for (const match of matches) {
    if (!MATCH_COLOURS[match.status]) continue; // rejected and expired ones are not drawn
    const ends = [];
    for (const [id, kind] of [[match.offer_id, 'offers'], [match.request_id, 'requests']]) {
      if (!places.has(id)) {
        try {
          places.set(id, (await get(`/v1/${kind}/${id}`)).location.coordinates);
        } catch {
          places.set(id, null); // gone, or not readable any more: the match is listed, not drawn
        }
      }
      ends.push(places.get(id));
    }
    if (ends.every(Boolean)) {
      lines.push({
        type: 'Feature',
        geometry: { type: 'LineString', coordinates: ends },
        properties: {
          id: match.id, status: match.status, colour: MATCH_COLOURS[match.status],
          quantity: quantity(match.quantity.value, match.quantity.unit), distance_m: match.distance_m,
        },
      });
    }
  }
  return lines;
}

function matchList(matches, titles) {
  const list = document.getElementById('match-list');
  list.replaceChildren(...matches.slice(0, 50).map((m) => el('li', { 'data-match': m.id, 'data-status': m.status },
    el('span', { class: `badge ${m.status}` }, m.status),
    ` ${quantity(m.quantity.value, m.quantity.unit)} · ${titles.get(m.offer_id) ?? 'offer'} → ${titles.get(m.request_id) ?? 'request'}`,
    el('small', {}, ` ${format(m.distance_m / 1000, 1)} km`))));
}

function boundsOf(coordinates) {
  const bounds = new maplibregl.LngLatBounds();
  for (const c of coordinates) bounds.extend(c);
  return bounds;
}

function stopLabel(stop) {
  if (stop.kind === 'start') return 'S';
  if (stop.kind === 'end') return 'E';
  return String(stop.order);
}

function stopPopup(route, stops, references) {
  return el('div', { class: 'popup stop-popup', 'data-vehicle': route.vehicle_id },
    el('strong', {}, route.vehicle_name),
    stops.map((s) => el('div', { class: 'stop', 'data-order': String(s.order) },
      el('p', { class: 'kind' }, `${stopLabel(s)} · ${s.kind}${s.shipment_id ? ` · ${references.get(s.shipment_id) ?? s.shipment_id.slice(0, 8)}` : ''}`),
      popupTable([
        ['Arrival', el('span', { class: 'arrival' }, clock(s.arrival))],
        s.start !== s.arrival && ['Service', el('span', { class: 'start' }, clock(s.start))],
        ['Departure', el('span', { class: 'departure' }, clock(s.departure))],
        ['Load', el('span', { class: 'load' }, `${format(s.load_kg, 0)} kg${s.load_m3 ? ` · ${format(s.load_m3, 2)} m³` : ''}`)],
        ['Driven', `${format(s.km, 1)} km`],
      ]))));
}

function transferPopup(transfers, references) {
  return el('div', { class: 'popup transfer-popup' },
    el('strong', {}, `Hand-overs at ${transfers[0].hub_name}`),
    transfers.map((t) => el('div', { class: 'stop', 'data-shipment': t.shipment_id },
      el('p', { class: 'kind' }, references.get(t.shipment_id) ?? t.shipment_id.slice(0, 8)),
      popupTable([
        ['Unloaded', clock(t.unloaded_at)],
        ['Loaded', clock(t.loaded_at)],
      ]))));
}

function clearMarkers() {
  for (const marker of markers.splice(0)) marker.remove();
}

function drawPlanMarkers(map, features, references, visible) {
  clearMarkers();
  const routes = new Map(features.filter((f) => f.properties.feature === 'route').map((f) => [f.properties.vehicle_id, f.properties]));
  // The stops of one vehicle at one place share a marker; vehicles at one place stack up.
  const groups = new Map();
  for (const f of features.filter((x) => x.properties.feature === 'stop')) {
    const key = `${f.properties.vehicle_id} ${f.geometry.coordinates.join(',')}`;
    if (!groups.has(key)) groups.set(key, { at: f.geometry.coordinates, stops: [] });
    groups.get(key).stops.push(f.properties);
  }
  const stacked = new Map();
  for (const { at, stops } of groups.values()) {
    const route = routes.get(stops[0].vehicle_id);
    const place = at.join(',');
    const height = stacked.get(place) ?? 0;
    stacked.set(place, height + 1);
    const element = el('button', {
      type: 'button', class: 'stop-marker', 'data-vehicle': route.vehicle_id,
      'data-orders': stops.map((s) => s.order).join(' '), 'aria-label': `${route.vehicle_name}: stops ${stops.map(stopLabel).join(', ')}`,
    }, stops.map(stopLabel).join('·'));
    element.style.background = route.colour;
    element.hidden = !visible;
    const popup = new maplibregl.Popup({ offset: 16, maxWidth: '280px' }).setDOMContent(stopPopup(route, stops, references));
    markers.push(new maplibregl.Marker({ element, offset: [0, -height * 26] }).setLngLat(at).setPopup(popup).addTo(map));
  }
  // The hand-overs at one hub share a marker too, stacked with the stops there.
  const handOvers = new Map();
  for (const f of features.filter((x) => x.properties.feature === 'transfer')) {
    const place = f.geometry.coordinates.join(',');
    if (!handOvers.has(place)) handOvers.set(place, { at: f.geometry.coordinates, transfers: [] });
    handOvers.get(place).transfers.push(f.properties);
  }
  for (const [place, { at, transfers }] of handOvers) {
    const height = stacked.get(place) ?? 0;
    stacked.set(place, height + 1);
    const element = el('button', {
      type: 'button', class: 'transfer-marker', 'data-transfers': String(transfers.length),
      'aria-label': `${transfers.length} hand-over(s) at ${transfers[0].hub_name}`,
    }, `⇄ ${transfers.length}`);
    element.hidden = !visible;
    const popup = new maplibregl.Popup({ offset: 16, maxWidth: '280px' }).setDOMContent(transferPopup(transfers, references));
    markers.push(new maplibregl.Marker({ element, offset: [0, -height * 26] }).setLngLat(at).setPopup(popup).addTo(map));
  }
}

function planFigures(plan) {
  const figure = (id, value, text) => {
    const node = document.getElementById(id);
    node.dataset.value = value === null ? '' : String(value);
    node.textContent = text;
  };
  const r = plan.result;
  if (!r) {
    for (const id of ['plan-km', 'plan-co2', 'plan-baseline', 'plan-saving']) figure(id, null, '–');
    return;
  }
  figure('plan-km', r.kpis.km, `${format(r.kpis.km, 1)} km`);
  figure('plan-co2', r.kpis.co2_kg, `${format(r.kpis.co2_kg, 2)} kg`);
  figure('plan-baseline', r.baseline.km, `${format(r.baseline.km, 1)} km · ${format(r.baseline.co2_kg, 2)} kg CO₂e`);
  figure('plan-saving', r.saving.co2_kg,
    `${format(r.saving.km, 1)} km (${format(r.saving.km_pct, 0)} %) · ${format(r.saving.co2_kg, 2)} kg CO₂e (${format(r.saving.co2_pct, 0)} %)`);
  document.getElementById('plan-baseline').title = r.baseline.description ?? '';
}

function planRoutes(features) {
  const list = document.getElementById('plan-routes');
  list.replaceChildren(...features.filter((f) => f.properties.feature === 'route').map(({ properties: p }) => {
    const swatch = el('i', { class: 'line' });
    swatch.style.background = p.colour;
    return el('li', { 'data-vehicle': p.vehicle_id }, swatch, el('b', {}, p.vehicle_name),
      ` ${p.vehicle_type.replace('_', ' ')} · ${format(p.km, 1)} km · ${format(p.hours, 1)} h · ${format(p.co2_kg, 2)} kg CO₂e`);
  }));
}

async function showPlan(map, plan, get, references) {
  const section = document.getElementById('plan');
  section.dataset.loaded = '';
  planFigures(plan);
  const note = document.getElementById('plan-note');
  note.textContent = '';
  if (plan.status !== 'done') {
    map.getSource('plan').setData(collection([]));
    clearMarkers();
    planRoutes([]);
    note.textContent = `This plan is ${plan.status}: its routes show once it is done.`;
    section.dataset.loaded = plan.id;
    return;
  }
  const geojson = await get(`/v1/route-plans/${plan.id}?format=geojson`);
  const colours = new Map();
  for (const f of geojson.features) {
    const vehicle = f.properties.vehicle_id ?? f.properties.outbound_vehicle_id;
    if (vehicle && !colours.has(vehicle)) colours.set(vehicle, ROUTE_COLOURS[colours.size % ROUTE_COLOURS.length]);
    f.properties.colour = colours.get(vehicle) ?? '#111';
  }
  map.getSource('plan').setData(geojson);
  drawPlanMarkers(map, geojson.features, await references(), document.getElementById('toggle-plan').checked);
  planRoutes(geojson.features);
  const unassigned = plan.result?.unassigned?.length ?? 0;
  if (unassigned) note.textContent = `${unassigned} shipment(s) left out of this plan.`;
  const points = geojson.features.flatMap((f) => (f.geometry.type === 'Point' ? [f.geometry.coordinates] : f.geometry.coordinates));
  if (points.length) map.fitBounds(boundsOf(points), { padding: { top: 110, bottom: 48, left: 48, right: 48 }, maxZoom: 15, duration: 0 });
  await idle(map);
  section.dataset.loaded = plan.id;
}

async function loadPlans(map, get) {
  const plans = await fetchAll(`/v1/route-plans?limit=${PAGE}`, get);
  const section = document.getElementById('plan');
  section.hidden = plans.length === 0;
  if (!plans.length) return;
  const select = document.getElementById('plan-select');
  select.replaceChildren(...plans.map((p) => el('option', { value: p.id },
    `${p.date} · ${p.status}${p.result ? ` · ${format(p.result.kpis.km, 1)} km` : ''}`)));
  let shipments;
  const references = async () => {
    shipments ??= fetchAll(`/v1/shipments?limit=${PAGE}`, get)
      .then((rows) => new Map(rows.map((s) => [s.id, s.reference || s.id.slice(0, 8)])));
    return shipments;
  };
  const byId = new Map(plans.map((p) => [p.id, p]));
  select.onchange = () => showPlan(map, byId.get(select.value), get, references).catch(fail);
  const first = plans.find((p) => p.status === 'done') ?? plans[0];
  select.value = first.id;
  await showPlan(map, first, get, references);
}

async function loadAccount(map, key, publicData) {
  const account = document.getElementById('account-status');
  const get = withKey(key);
  document.body.dataset.account = 'loading';
  account.textContent = 'Reading your data…';
  const organization = await get('/v1/organizations/me');
  const [offers, requests, matches] = await Promise.all([
    fetchAll(`/v1/offers?mine=true&limit=${PAGE}`, get),
    fetchAll(`/v1/requests?mine=true&limit=${PAGE}`, get),
    fetchAll(`/v1/matches?limit=${PAGE}`, get),
  ]);
  const chapterTitles = new Map([...publicData.offers, ...publicData.requests].map((f) => [f.properties.chapter, f.properties.chapter_title]));
  map.getSource('mine-offers').setData(collection(ownPoints(offers, 'offer', chapterTitles)));
  map.getSource('mine-requests').setData(collection(ownPoints(requests, 'request', chapterTitles)));
  const places = placeOf([...offers, ...requests, ...publicData.offers, ...publicData.requests]);
  const titles = new Map([...offers, ...requests, ...publicData.offers, ...publicData.requests]
    .map((f) => [String(f.properties.id ?? f.id), f.properties.title]));
  map.getSource('mine-matches').setData(collection(await matchLines(matches, places, get)));
  document.getElementById('mine').hidden = false;
  document.getElementById('mine-counts').textContent =
    `${offers.length} offer(s), ${requests.length} request(s), ${matches.length} match(es).`;
  matchList(matches, titles);
  account.textContent = `${organization.name} (${organization.roles.join(', ')})`;
  await loadPlans(map, get);
  await idle(map);
  document.body.dataset.account = 'ready';
}

function forgetAccount(map) {
  sessionStorage.removeItem(KEY_STORAGE);
  for (const source of ['mine-offers', 'mine-requests', 'mine-matches', 'plan']) map.getSource(source).setData(collection([]));
  clearMarkers();
  document.getElementById('plan').hidden = true;
  document.getElementById('mine').hidden = true;
  document.getElementById('key-forget').hidden = true;
  document.getElementById('account-status').textContent = '';
  document.getElementById('api-key').value = '';
  delete document.body.dataset.account;
}

function fail(error) {
  console.error(error);
  status.textContent = `Something went wrong: ${error.message}`;
  status.classList.add('error');
}

function accountForm(map, publicData) {
  const form = document.getElementById('key-form');
  const input = document.getElementById('api-key');
  const forget = document.getElementById('key-forget');
  const use = async (key) => {
    forget.hidden = false;
    try {
      await loadAccount(map, key, publicData);
    } catch (error) {
      document.body.dataset.account = 'error';
      document.getElementById('account-status').textContent = `Your data could not be read: ${error.message}`;
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    input.value = '';
    use(key);
  });
  forget.addEventListener('click', () => forgetAccount(map));
  const kept = sessionStorage.getItem(KEY_STORAGE);
  if (kept) use(kept);
}

async function start() {
  const tilejson = await getJson(`${OGC}/ogc.roads/tiles/WebMercatorQuad/tilejson.json`);
  const roadsTiles = { tiles: tilejson.tiles, bounds: tilejson.bounds, layer: tilejson.vector_layers?.[0]?.id ?? 'default' };
  const map = new maplibregl.Map({
    container: 'map',
    style: baseStyle(roadsTiles),
    bounds: BRUSSELS,
    fitBoundsOptions: { padding: 8 },
    minZoom: 9,
    maxZoom: 19,
    attributionControl: false,
    dragRotate: false,
    pitchWithRotate: false,
  });
  window.boucleMap = map;
  map.addControl(new maplibregl.AttributionControl({ compact: false }), 'bottom-right');
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  map.on('error', (event) => fail(event.error ?? new Error('map error')));
  await new Promise((resolve) => map.once('load', resolve));
  // A pattern must be there before a layer asks for it; the style has no sprite to hold it.
  map.addImage('suppressed-hatch', hatch());
  map.addLayer(SUPPRESSED_LAYER, 'roads-foot');
  layerToggles(map);
  bindPopups(map);
  const publicData = await loadPublicLayers(map);
  await idle(map);
  status.textContent = `${publicData.offers.length} open offers · ${publicData.requests.length} open requests · ${publicData.hubs.length} hubs and yards`;
  document.body.dataset.ready = 'true';
  ready.resolve(map);
  accountForm(map, publicData);
}

start().catch((error) => {
  fail(error);
  ready.reject(error);
});
